"""Property names in messages as the program's language spells them: ``expectedPlan`` in YAML, TypeScript and Go,
``expected_plan`` in Python (the native plugin serves the generated Python SDK too).

The core words its warnings and refusals with the catalog's snake_case names. The native plugin is not told the
program's language, but the engine starts every plugin in the program's directory (its ``Pwd``, directly or
through a language host's ``RunPlugin``), where ``Pulumi.yaml`` names the runtime: a Python program keeps the
snake_case names, any other language gets the schema's camelCase. A plugin started anywhere else (a test, a
script) finds the nearest ``Pulumi.yaml`` above it, or none and keeps the core's names.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

from ..catalog import camel

log = logging.getLogger(__name__)

NAMED = ("expected_plan", "step_scripts")
"""The properties messages name (refusals, warnings, the plan's lines)."""
_NAMED = re.compile(rf"\b({'|'.join(NAMED)})\b")
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


def runtime_of(folder: Path) -> str | None:
    """The runtime the nearest project file at or above ``folder`` names (``python``, ``nodejs``, ``go``, ``yaml``)."""
    import yaml

    for where in (folder, *folder.parents):
        for name in PROJECT_FILES:
            project = where / name
            if not project.is_file():
                continue
            try:
                runtime = (yaml.safe_load(project.read_text()) or {}).get("runtime")
            except (OSError, yaml.YAMLError, AttributeError) as error:
                log.debug("cannot read the runtime of %s: %s", project, error)
                return None
            name_of = runtime.get("name") if isinstance(runtime, dict) else runtime
            return str(name_of) if name_of else None
    return None


@functools.cache
def camel_case() -> bool:
    """Whether this plugin's program spells properties in camelCase: every runtime but Python's (read once)."""
    return runtime_of(Path.cwd()) not in (None, "python")


def spelled(text: str, camel_names: bool | None = None) -> str:
    """``text`` with each property it names spelled as the program's language spells it."""
    if not (camel_case() if camel_names is None else camel_names):
        return text
    return _NAMED.sub(lambda match: camel(match.group(1)), text)
