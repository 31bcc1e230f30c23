"""The registry pages in docs/ stay true: their config keys, resource types, properties and examples are checked
against the schema the plugin serves, the settings the provider reads and the examples the CLI tests run."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_azure_elastic_jobs import config as config_module
from pulumi_azure_elastic_jobs.auth import CLOUDS
from pulumi_azure_elastic_jobs.catalog import CONFIG, camel, snake
from pulumi_azure_elastic_jobs.config import DEFAULT_RETRY_BUDGET_SECONDS
from pulumi_azure_elastic_jobs.native.schema import JOB_EXECUTION, JOB_EXECUTION_SET, PACKAGE, schema
from pulumi_azure_elastic_jobs.operations import CONFIG_KEYS

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "_index.md"
INSTALL = ROOT / "docs" / "installation-configuration.md"
EXAMPLE_YAML = ROOT / "examples" / "yaml" / "Pulumi.yaml"
SEED = ROOT / "examples" / "seed.yaml"
LANGUAGES = ["typescript", "python", "go", "yaml"]

SCHEMA = schema()
RESOURCES: dict[str, dict[str, Any]] = SCHEMA["resources"]
TYPES: dict[str, dict[str, Any]] = SCHEMA["types"]


def front_matter(text: str) -> dict[str, Any]:
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "a page starts with front matter between --- lines"
    loaded: dict[str, Any] = yaml.safe_load(match.group(1))
    return loaded


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)


def choosers(text: str) -> list[tuple[list[str], dict[str, str]]]:
    """Each chooser: the languages it offers and, per choosable block, the code inside it."""
    found = []
    for offered, body in re.findall(
        r'\{\{< chooser language "([^"]+)" >\}\}(.*?)\{\{< /chooser >\}\}', text, re.DOTALL
    ):
        blocks = dict(re.findall(r"\{\{% choosable language (\w+) %\}\}\n(.*?)\{\{% /choosable %\}\}", body, re.DOTALL))
        found.append((offered.split(","), {language: code.strip() for language, code in blocks.items()}))
    return found


def resource_token(declared: str) -> str:
    """``azure-elastic-jobs:JobExecution`` (YAML's short form) -> ``azure-elastic-jobs:index:JobExecution``."""
    parts = declared.split(":")
    return f"{parts[0]}:index:{parts[1]}" if len(parts) == 2 else declared


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


# --- front matter and layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [INDEX, INSTALL], ids=lambda page: page.name)
def test_each_page_has_the_front_matter_of_a_pulumi_package_page(page: Path) -> None:
    matter = front_matter(page.read_text())
    assert set(matter) == {"title", "meta_desc", "layout"}
    assert matter["layout"] == "package"
    assert matter["title"].strip() and matter["meta_desc"].strip()


def test_every_chooser_offers_exactly_the_languages_it_has_an_example_in() -> None:
    found = choosers(INDEX.read_text())
    assert found, "the overview has examples in a language chooser"
    for offered, blocks in found:
        assert offered == LANGUAGES
        assert list(blocks) == LANGUAGES
        for language, code in blocks.items():
            assert code.startswith(f"```{language}\n") and code.endswith("```"), language


# --- configuration ---------------------------------------------------------------------------------------------


def config_rows() -> dict[str, dict[str, str]]:
    """The configuration table of installation-configuration.md, by key."""
    section = INSTALL.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    header = ["key", "meaning", "default", "secret", "environment"]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            assert len(cells) == len(header), line
            row = dict(zip(header, cells, strict=True))
            rows[row["key"].strip("`")] = row
    return rows


def test_the_configuration_table_names_every_config_key_the_provider_reads_and_no_other() -> None:
    assert list(config_rows()) == list(CONFIG_KEYS)
    assert [camel(prop.name) for prop in CONFIG] == list(CONFIG_KEYS)
    assert set(SCHEMA["config"]["variables"]) == set(CONFIG_KEYS)


def test_the_configuration_table_says_which_keys_are_secret_as_the_schema_does() -> None:
    variables = SCHEMA["config"]["variables"]
    for key, row in config_rows().items():
        assert row["secret"] == ("yes" if variables[key].get("secret") else "no"), key


def test_the_configuration_tables_environment_variables_are_the_ones_the_settings_read() -> None:
    source = inspect.getsource(config_module.Settings.resolve)
    for key, row in config_rows().items():
        names = re.findall(r"`([A-Z][A-Z_]+)`", row["environment"])
        assert names, key
        for name in names:
            assert f'"{name}"' in source, (key, name)
        assert re.search(rf'pick(?:_with_source)?\(\s*"{key}"', source), key


def test_the_configuration_tables_defaults_are_the_providers() -> None:
    rows = config_rows()
    public = CLOUDS["public"]
    assert public.resource_manager in rows["endpoint"]["default"]
    assert public.authority_host in rows["authorityHost"]["default"]
    assert rows["environment"]["default"] == "`public`"
    assert rows["retryBudget"]["default"] == f"`{DEFAULT_RETRY_BUDGET_SECONDS:g}`"
    assert rows["allowCustomEndpoint"]["default"] == "`false`"
    for cloud in CLOUDS:
        assert f"`{cloud}`" in rows["environment"]["meaning"]


@pytest.mark.parametrize("page", [INDEX, INSTALL], ids=lambda page: page.name)
def test_every_namespaced_name_on_a_page_is_a_config_key_or_a_resource_type(page: Path) -> None:
    tokens = {token.split(":")[-1] for token in RESOURCES}
    for name in re.findall(rf"{PACKAGE}:(?:index:)?(\w+)", page.read_text()):
        assert name in CONFIG_KEYS or name in tokens, name


# --- the examples ----------------------------------------------------------------------------------------------


def check_value(value: Any, spec: dict[str, Any], where: str) -> None:
    """A YAML value against a schema property spec; an interpolation (``${...}``) stands for any value."""
    if isinstance(value, str) and value.startswith("${"):
        return
    if "$ref" in spec:
        ref = spec["$ref"]
        if ref == "pulumi.json#/Any":
            return
        check_object(value, TYPES[ref.removeprefix("#/types/")], where)
        return
    kind = spec["type"]
    expected: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "number": (int, float),
        "integer": int,
        "boolean": bool,
        "array": list,
        "object": dict,
    }
    assert isinstance(value, expected[kind]), f"{where}: {value!r} is not a {kind}"
    assert kind == "boolean" or not isinstance(value, bool), f"{where}: {value!r} is not a {kind}"
    if kind == "array":
        for index, item in enumerate(value):
            check_value(item, spec["items"], f"{where}[{index}]")
    if kind == "object":
        for key, item in value.items():
            check_value(item, spec["additionalProperties"], f"{where}.{key}")


def check_object(value: Any, spec: dict[str, Any], where: str, properties: str = "properties") -> None:
    assert isinstance(value, dict), f"{where}: {value!r} is not an object"
    known = spec[properties]
    assert set(value) <= set(known), f"{where}: not in the schema: {sorted(set(value) - set(known))}"
    required = spec["requiredInputs"] if properties == "inputProperties" else spec["required"]
    assert set(required) <= set(value), f"{where}: missing required {sorted(set(required) - set(value))}"
    for key, item in value.items():
        check_value(item, known[key], f"{where}.{key}")


def check_program(program: dict[str, Any], where: str) -> None:
    """A YAML program's resources and outputs against the schema: types, input names and kinds, required inputs,
    and every ``${resource.output}`` an output or a property reads."""
    resources = program["resources"]
    for name, resource in resources.items():
        token = resource_token(resource["type"])
        assert token in RESOURCES, f"{where}: unknown type {resource['type']}"
        check_object(resource.get("properties", {}), RESOURCES[token], f"{where}: {name}", "inputProperties")
    for resource_name, output in re.findall(r"\$\{(\w+)\.(\w+)", yaml.safe_dump(program)):
        if resource_name in resources:
            token = resource_token(resources[resource_name]["type"])
            assert output in RESOURCES[token]["properties"], f"{where}: {resource_name} has no output {output}"


def index_programs() -> list[dict[str, Any]]:
    programs = [yaml.safe_load(block) for block in code_blocks(INDEX.read_text(), "yaml")]
    assert programs, "the overview has YAML examples"
    return programs


def test_the_overviews_yaml_examples_are_valid_programs_of_the_schema() -> None:
    for number, program in enumerate(index_programs()):
        assert program["runtime"] == "yaml"
        check_program(program, f"yaml example {number}")
    types = {resource_token(r["type"]) for program in index_programs() for r in program["resources"].values()}
    assert types == {JOB_EXECUTION, JOB_EXECUTION_SET}, "both resources are shown"


def test_the_yaml_example_the_cli_tests_run_passes_the_same_check() -> None:
    """The check is not blind: examples/yaml/Pulumi.yaml (run by tests/cli/test_yaml_cli.py) passes it, the
    overview's JobExecution is declared as it is, and a misspelt property fails it."""
    example = yaml.safe_load(EXAMPLE_YAML.read_text())
    check_program(example, "examples/yaml")
    first = index_programs()[0]
    assert first["resources"]["migration"]["type"] == example["resources"]["migration"]["type"]
    assert set(first["outputs"]) <= set(example["outputs"])
    wrong = yaml.safe_load(EXAMPLE_YAML.read_text())
    wrong["resources"]["migration"]["properties"]["wait_for_completion"] = True
    with pytest.raises(AssertionError, match="wait_for_completion"):
        check_program(wrong, "misspelt")


def test_the_overviews_examples_run_against_the_emulators_fixture() -> None:
    seed = yaml.safe_load(SEED.read_text())["subscriptions"]
    for program in index_programs():
        for resource in program["resources"].values():
            props = resource["properties"]
            agent = seed[next(iter(seed))]["resourceGroups"][props["resourceGroupName"]]["servers"][
                props["serverName"]
            ]["jobAgents"][props["jobAgentName"]]
            jobs = [props["jobName"]] if "jobName" in props else [m["jobName"] for m in props["members"].values()]
            assert set(jobs) <= set(agent["jobs"]), jobs


def names_used(program: dict[str, Any]) -> tuple[dict[str, str], set[str], set[str]]:
    """(resource name -> its token, the camelCase properties the example sets, the free-form keys it uses)."""
    tokens, names, free = {}, set(), set()
    for resource_name, resource in program["resources"].items():
        tokens[resource_name] = resource_token(resource["type"])
        for key, value in resource["properties"].items():
            names.add(key)
            if key == "triggers":
                free |= set(value)
            if key == "members":
                free |= set(value)
                for member in value.values():
                    names |= set(member)
                    free |= set(member.get("triggers", {}))
    return tokens, names, free


def every_property_name() -> set[str]:
    """Every camelCase input, output and object-type property of the package."""
    names: set[str] = set()
    for spec in (*RESOURCES.values(), *TYPES.values()):
        names |= set(spec.get("inputProperties", {})) | set(spec["properties"])
    return names


def test_each_languages_example_sets_the_same_properties_as_the_yaml_one_in_its_casing() -> None:
    """TypeScript camelCase keys, Python snake_case arguments (or member keys), Go PascalCase fields: the same
    properties as the YAML example, and every property-like name in the code is one of the schema's."""
    known = every_property_name()
    for _, blocks in choosers(INDEX.read_text()):
        tokens, names, free = names_used(yaml.safe_load(blocks["yaml"].strip("`").removeprefix("yaml\n")))
        typescript, python, go = blocks["typescript"], blocks["python"], blocks["go"]
        for name in names:
            assert re.search(rf"\b{name}: ", typescript), ("typescript", name)
            assert re.search(rf'\b{snake(name)}=|"{snake(name)}": ', python), ("python", name)
            assert re.search(rf"\b{pascal(name)}: ", go), ("go", name)
        assert set(re.findall(r"\b(\w+): ", typescript)) <= known | free
        assert {camel(arg) for arg in re.findall(r"\b(\w+)=", python)} <= known
        assert set(re.findall(r"\b([A-Z]\w*): ", go)) <= {pascal(name) for name in known}
        for resource_name, token in tokens.items():
            outputs = set(RESOURCES[token]["properties"])
            assert {camel(name) for name in re.findall(rf"\b{resource_name}\.(\w+)", python)} <= outputs
            assert set(re.findall(rf"\b{resource_name}\.(\w+)", typescript)) <= outputs
            assert set(re.findall(rf"\b{resource_name}\.(\w+)", go)) <= {pascal(name) for name in outputs}


def test_the_go_and_typescript_examples_use_the_sdk_names_of_the_schema() -> None:
    language = SCHEMA["language"]
    text = INDEX.read_text()
    for code in code_blocks(text, "typescript"):
        assert f'from "{language["nodejs"]["packageName"]}"' in code
    for code in code_blocks(text, "go"):
        import_path = language["go"]["importBasePath"]
        package = import_path.rsplit("/", 1)[1]
        assert f'"{import_path}"' in code
        for token in re.findall(rf"\b{package}\.New(\w+)\(", code):
            assert f"{PACKAGE}:index:{token}" in RESOURCES
            assert f"&{package}.{token}Args{{" in code
    install = INSTALL.read_text()
    for name in (
        language["nodejs"]["packageName"],
        language["go"]["importBasePath"],
        language["python"]["packageName"],
    ):
        assert f"`{name}`" in install


def test_the_python_examples_arguments_are_the_dynamic_resources() -> None:
    import pulumi_azure_elastic_jobs as package

    for code in code_blocks(INDEX.read_text(), "python"):
        for class_name, arguments in re.findall(r"\b(JobExecution(?:Set)?)\((.*?)\n\)", code, re.DOTALL):
            assert f"from pulumi_azure_elastic_jobs import {class_name}" in code
            accepted = inspect.signature(getattr(package, class_name).__init__).parameters
            for argument in re.findall(r"^    (\w+)=", arguments, re.MULTILINE):
                assert argument in accepted, (class_name, argument)


# --- links -----------------------------------------------------------------------------------------------------

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def link_target(page: Path, link: str) -> tuple[Path, str]:
    """(the file, the anchor) a relative link points at. A registry page's ``./page/`` is that page's URL on the
    registry site, which docs/page.md becomes."""
    path, _, anchor = link.partition("#")
    if not path:
        return page, anchor
    if page.parent.name == "docs" and re.fullmatch(r"\./[\w-]+/", path):
        return page.parent / f"{path[2:-1]}.md", anchor
    return (page.parent / path).resolve(), anchor


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.DOTALL | re.MULTILINE)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path) -> None:
    for link in relative_links(page):
        target, anchor = link_target(page, link)
        assert target.exists(), (link, target)
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), (link, sorted(anchors(target)))


def test_the_link_check_sees_a_broken_link_and_a_broken_anchor() -> None:
    readme = ROOT / "README.md"
    assert link_target(readme, "docs/missing.md")[0].exists() is False
    target, anchor = link_target(readme, "docs/emulator.md#no-such-heading")
    assert target.exists() and anchor not in anchors(target)
    assert "the-local-emulator" in anchors(target)
    assert link_target(INDEX, "./installation-configuration/")[0] == INSTALL


def test_the_registry_pages_link_only_to_each_other() -> None:
    """The registry publishes _index.md and installation-configuration.md alone: a link from them to another
    page of docs/ or to the repository would be broken there."""
    for page in (INDEX, INSTALL):
        for link in relative_links(page):
            assert link_target(page, link)[0] in (INDEX, INSTALL), (page.name, link)


# --- the performance table -------------------------------------------------------------------------------------


def test_the_performance_pages_table_is_the_latest_benchmark_results() -> None:
    import json

    from benchmarks.table import PAGE, RESULTS, generated_block, markdown

    report = json.loads(RESULTS.read_text())
    assert not report["quick"], "results.json holds a full run, not the smoke run"
    assert generated_block(PAGE.read_text()) == markdown(report), "run `python -m benchmarks.table`"
