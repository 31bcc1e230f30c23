"""The mutation gate: every mutant in :mod:`tests.engine.mutants` must be killed by the tests that prove its promise.

For each mutant the gate copies the package directory (``provider/pulumi_azure_elastic_jobs``) to a temporary
directory, applies the mutant to the copy, and runs the mutant's killers in a fresh ``python -m pytest`` whose
``PYTHONPATH`` puts the copy first: the test process and every process it starts (the emulator, the SDK's dynamic
plugin ``python -m pulumi.dynamic``, the native plugin's console script) import the mutated package. A probe the
gate adds to the copy's ``__init__.py`` records which processes imported it, so the gate checks that both plugins
really ran the copy instead of trusting it.

A mutant is killed when a killer *fails*. An error (a fixture or collection error, an import error) is no kill: a
mutant whose patch does not compile or import is a bad mutant and fails the gate saying so. The killers first run
without any mutant, on a copy made the same way, and must pass: a broken killer kills every mutant for nothing.

Hypothesis runs under the ``mutation`` profile (tests/conftest.py): the derandomized examples of ``ci`` without
shrinking, since one failing example is a kill. Runs go two at a time (two cores). The table at the end says,
for each mutant, what killed it and how long that took.

Environment: ``MUTATION_GATE_ONLY=name,name`` runs only those mutants; ``MUTATION_GATE_EVERY_KILLER=1`` runs every
killer of each mutant instead of stopping at the first failure (slower: it says which tests kill what).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.engine.mutants import MUTANTS, Mutant, MutantOutOfDate, patched

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "provider" / "pulumi_azure_elastic_jobs"
WORKERS = 2
"""Killer runs at a time: each starts an emulator and plugins, and the machine CI runs on has two cores."""
RUN_LIMIT_SECONDS = 900.0
"""A killer run with no verdict by then is stopped (with every process it started) and fails the gate."""
PROFILE = "mutation"
IMPORT_LOG = "MUTATION_GATE_IMPORT_LOG"

PROBE = '''

def _mutation_gate_probe() -> None:
    """Added by the mutation gate to its copy of the package only: records which process imported the copy."""
    import json
    import os
    import sys

    log = os.environ.get("MUTATION_GATE_IMPORT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps({"pid": os.getpid(), "argv": sys.orig_argv, "file": __file__}) + "\\n")


_mutation_gate_probe()
'''

pytestmark = [pytest.mark.mutation, pytest.mark.timeout(3600)]


# --- one run of some tests against a copy of the package -----------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """Tests to run against a copy of the package, with one mutant applied (None: the package as it is)."""

    label: str
    tests: tuple[str, ...]
    mutant: Mutant | None = None
    stop_at_first_failure: bool = True


@dataclass
class Outcome:
    job: Job
    seconds: float = 0.0
    returncode: int | None = None
    """pytest's exit status; None when the run did not get that far (a bad patch) or ran out of time."""
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""
    imports: list[dict[str, Any]] = field(default_factory=list)
    """What the probe recorded: each process that imported the copy, its command line and the file it read."""
    copy: str = ""
    bad_patch: str | None = None
    timed_out: bool = False

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)


def run(job: Job, scratch: Path) -> Outcome:
    """Copy the package, apply the job's mutant, check that the patch compiles and imports, run the tests."""
    outcome = Outcome(job)
    began = time.monotonic()
    try:
        home = Path(tempfile.mkdtemp(prefix="job-", dir=scratch))
        copy = home / PACKAGE.name
        shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        outcome.copy = str(copy)
        with (copy / "__init__.py").open("a", encoding="utf-8") as init:
            init.write(PROBE)
        env = _environment(home)
        if job.mutant is not None:
            outcome.bad_patch = _apply(job.mutant, copy, env)
            if outcome.bad_patch is not None:
                return outcome
        _run_tests(job, home, env, outcome)
        return outcome
    finally:
        outcome.seconds = time.monotonic() - began


def _environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(home), env.get("PYTHONPATH", "")]))
    env[IMPORT_LOG] = str(home / "imports.jsonl")
    return env


def _apply(mutant: Mutant, copy: Path, env: dict[str, str]) -> str | None:
    """Patch the copy; the reason the mutant is bad (its code is gone, or it breaks compiling or importing)."""
    target = copy / mutant.module
    if not target.is_file():
        return f"mutant {mutant.name!r}: no module {mutant.module} in the package"
    try:
        source = patched(mutant, target.read_text(encoding="utf-8"))
    except MutantOutOfDate as stale:
        return str(stale)
    target.write_text(source, encoding="utf-8")
    try:
        compile(source, str(target), "exec")
    except SyntaxError as error:
        return f"mutant {mutant.name!r} does not compile: {error}"
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # a name the mutant uses but nothing defines would "kill" by NameError, not by a test
        select = "E9,F821,F822,F823"
        lint = subprocess.run(
            [
                str(ruff),
                "check",
                "--isolated",
                "--no-cache",
                "--target-version",
                "py311",
                "--select",
                select,
                str(target),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if lint.returncode != 0:
            return f"mutant {mutant.name!r} uses undefined names:\n{lint.stdout}{lint.stderr}"
    module = "pulumi_azure_elastic_jobs." + mutant.module.removesuffix(".py").replace("/", ".")
    imported = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, check=False
    )
    if imported.returncode != 0:
        return f"mutant {mutant.name!r} breaks `import {module}`:\n{imported.stderr[-2000:]}"
    return None


def _run_tests(job: Job, home: Path, env: dict[str, str], outcome: Outcome) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", f"--hypothesis-profile={PROFILE}"]
    if job.stop_at_first_failure:
        command.append("-x")
    log_path = home / "pytest.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [*command, *job.tests], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            outcome.returncode = process.wait(timeout=RUN_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
        finally:  # whatever is left of the run's process group (plugins, emulators) goes with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if outcome.timed_out:
        outcome.returncode = None
    outcome.output = log_path.read_text(encoding="utf-8", errors="replace")
    for kind, node in _SUMMARY.findall(outcome.output):
        (outcome.failed if kind == "FAILED" else outcome.errors).append(node)
    imports = home / "imports.jsonl"
    if imports.exists():
        outcome.imports = [json.loads(line) for line in imports.read_text(encoding="utf-8").splitlines() if line]


# --- the gate --------------------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    mutant: Mutant
    outcome: Outcome
    killed: bool
    explanation: str


@dataclass
class Gate:
    baseline: list[Outcome]
    verdicts: dict[str, Verdict]
    seconds: float

    def baseline_failures(self) -> list[str]:
        return [node for outcome in self.baseline for node in outcome.failed + outcome.errors]

    def table(self) -> str:
        rows = [("mutant", "verdict", "seconds", "killed by")]
        for outcome in self.baseline:
            said = "passes" if outcome.returncode == 0 else "FAILS"
            rows.append((outcome.job.label, said, f"{outcome.seconds:.1f}", ", ".join(outcome.failed + outcome.errors)))
        for verdict in self.verdicts.values():
            said = "killed" if verdict.killed else "SURVIVES" if verdict.outcome.returncode == 0 else "NO VERDICT"
            why = verdict.explanation.splitlines()[0] if verdict.explanation else ""
            rows.append((verdict.mutant.name, said, f"{verdict.outcome.seconds:.1f}", why))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
        lines.append(f"wall time {self.seconds:.1f} s, {WORKERS} runs at a time")
        return "\n".join(lines)


def selected_mutants() -> tuple[Mutant, ...]:
    only = {name.strip() for name in os.environ.get("MUTATION_GATE_ONLY", "").split(",") if name.strip()}
    unknown = only - {mutant.name for mutant in MUTANTS}
    if unknown:
        raise ValueError(f"MUTATION_GATE_ONLY names no mutant: {sorted(unknown)}")
    return tuple(mutant for mutant in MUTANTS if not only or mutant.name in only)


def baseline_jobs(killed_by: list[str]) -> list[Job]:
    """The tests that killed, unmutated and run to the end (a failure says which killer is broken), in two halves
    so both cores work."""
    nodes = list(dict.fromkeys(killed_by))
    halves = [tuple(nodes[index::WORKERS]) for index in range(WORKERS)]
    return [
        Job(f"(no mutant) killers {index + 1}/{WORKERS}", half, stop_at_first_failure=False)
        for index, half in enumerate(halves)
        if half
    ]


def _short(node: str) -> str:
    return node.split("::", 1)[-1]


def run_gate(mutants: tuple[Mutant, ...]) -> Gate:
    """Each mutant against its killers; then, unmutated, exactly the tests that killed (a kill by a test that also
    fails without the mutant does not count). The state machine runs in a mutant's job only when its faster
    killers let it through, and unmutated only when it killed: CI runs it in full anyway."""
    every_killer = os.environ.get("MUTATION_GATE_EVERY_KILLER") == "1"
    began = time.monotonic()
    mutant_jobs = [Job(m.name, m.killers, m, stop_at_first_failure=not every_killer) for m in mutants]
    with tempfile.TemporaryDirectory(prefix="mutation-gate-") as scratch, ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda job: run(job, Path(scratch)), mutant_jobs))
        baseline = baseline_jobs([node for outcome in outcomes for node in outcome.failed])
        baseline_outcomes = list(pool.map(lambda job: run(job, Path(scratch)), baseline))
    broken = {node for outcome in baseline_outcomes for node in outcome.failed + outcome.errors}
    verdicts = {outcome.job.label: judge(outcome, broken) for outcome in outcomes}
    return Gate(baseline_outcomes, verdicts, time.monotonic() - began)


def judge(outcome: Outcome, broken_without_mutant: set[str]) -> Verdict:
    """Killed only by a failed test that passes without the mutant, in a run that imported the mutated copy."""
    mutant = outcome.job.mutant
    assert mutant is not None
    if outcome.bad_patch is not None:
        return Verdict(mutant, outcome, False, f"bad mutant: {outcome.bad_patch}")
    if outcome.timed_out:
        return Verdict(mutant, outcome, False, f"no verdict within {RUN_LIMIT_SECONDS:g} s:\n{outcome.tail()}")
    if not any(entry["file"].startswith(outcome.copy) for entry in outcome.imports):
        return Verdict(mutant, outcome, False, f"the tests never imported the mutated copy:\n{outcome.tail()}")
    if outcome.returncode == 0:
        return Verdict(mutant, outcome, False, "every killer passes:\n" + "\n".join(mutant.killers))
    if outcome.errors or not outcome.failed:
        return Verdict(mutant, outcome, False, f"errors, not failed tests (a bad mutant?):\n{outcome.tail()}")
    counted = [node for node in outcome.failed if node not in broken_without_mutant]
    if not counted:
        return Verdict(mutant, outcome, False, f"killed only by killers that fail without it: {outcome.failed}")
    return Verdict(mutant, outcome, True, ", ".join(counted))


def plugin_imports(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """Which kinds of process imported the copy, and from which files: the tests, the dynamic plugin
    (``python -m pulumi.dynamic``), the native plugin (its console script, or ``-m ...native``)."""
    kinds: dict[str, list[str]] = {"tests": [], "dynamic plugin": [], "native plugin": []}
    for outcome in outcomes:
        for entry in outcome.imports:
            argv = " ".join(entry["argv"])
            if "pytest" in argv:
                kind = "tests"
            elif "pulumi.dynamic" in argv:
                kind = "dynamic plugin"
            elif "elastic-jobs-provider" in argv or "pulumi_azure_elastic_jobs.native" in argv:
                kind = "native plugin"
            else:
                continue
            where = "the copy" if entry["file"].startswith(outcome.copy) else entry["file"]
            kinds[kind].append(where)
    return kinds


# --- the tests CI runs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate(request: pytest.FixtureRequest) -> Iterator[Gate]:
    result = run_gate(selected_mutants())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # on the terminal, not in a captured section
            reporter.ensure_newline()
            reporter.write_sep("-", "mutation gate")
            for line in result.table().splitlines():
                reporter.write_line(line)
    yield result


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.name)
def test_each_mutant_still_finds_the_code_it_breaks(mutant: Mutant) -> None:
    patched(mutant, (PACKAGE / mutant.module).read_text(encoding="utf-8"))
    assert mutant.killers, f"mutant {mutant.name!r} names no test that must kill it"


def test_the_killers_pass_without_a_mutant(gate: Gate) -> None:
    failures = gate.baseline_failures()
    outputs = "\n\n".join(outcome.tail() for outcome in gate.baseline if outcome.returncode != 0)
    assert all(outcome.returncode == 0 for outcome in gate.baseline), (
        f"killers fail with no mutant applied, so they prove nothing: {failures}\n{outputs}\n\n{gate.table()}"
    )


def test_the_tests_and_both_plugins_import_the_mutated_copy(gate: Gate) -> None:
    """The test process, the dynamic plugin (``python -m pulumi.dynamic``) and the native plugin (the venv's console
    script ``elastic-jobs-provider``) each imported the copy: PYTHONPATH reaches every process a killer starts."""
    if os.environ.get("MUTATION_GATE_ONLY"):
        pytest.skip("a few mutants' killers need not start both plugins: checked on the whole gate")
    imports = plugin_imports([*gate.baseline, *(verdict.outcome for verdict in gate.verdicts.values())])
    for kind, files in imports.items():
        assert files, f"no {kind} process imported the copy of the package: {imports}"
        assert set(files) == {"the copy"}, f"a {kind} process imported the package from elsewhere: {files}"


@pytest.mark.parametrize("mutant", selected_mutants(), ids=lambda mutant: mutant.name)
def test_the_mutant_is_killed_by_the_tests_that_prove_its_promise(gate: Gate, mutant: Mutant) -> None:
    verdict = gate.verdicts[mutant.name]
    assert verdict.killed, f"mutant {mutant.name!r} ({mutant.breaks}): {verdict.explanation}\n\n{gate.table()}"
