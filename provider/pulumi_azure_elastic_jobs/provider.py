"""The dynamic-provider face: ``pulumi.dynamic.ResourceProvider`` hooks over :mod:`.operations`. Translation only.

The engine pickles this object (dill) into every resource's state and revives it in the plugin process: it
pickles by reference to this installed class with no state at all (see ``__reduce__``), so ``__provider`` is a
few dozen bytes, carries no secret, and does not change between releases. Settings, credentials and the HTTP
client are built lazily in the plugin process, once, and shared by its four worker threads. The SDK's plugin
hands a hook neither the resource's URN nor the engine's address: :meth:`.Progress.here` finds both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from . import plugin_errors
from .operations import (
    CONFIG_KEYS,
    OUTPUT_NAMES,
    Connection,
    Executions,
    ExecutionSets,
    unchanged_inputs,
)
from .progress import Progress
from .terms import UNKNOWN

__all__ = ["OUTPUT_NAMES", "JobExecutionProvider", "JobExecutionSetProvider", "unchanged_inputs"]


_replacing: set[tuple[str, str]] = set()
_replacing_lock = threading.Lock()


def shown_already(urn: str | None, replacing: bool, new: bool, inputs: Mapping[str, Any]) -> bool:
    """Whether this Check is the second of a replacement whose plan the first showed. The engine checks a replaced
    resource twice: with its old inputs (the plan, and its comparison with the last run, are shown then) and
    again with none, for the replacement, which would show the plan again as a first run's."""
    if urn is None:
        return False
    key = (urn, json.dumps(inputs, sort_keys=True, default=str))
    with _replacing_lock:
        if replacing:
            _replacing.add(key)
            return False
        if new and key in _replacing:
            _replacing.discard(key)
            return True
    return False


class JobExecutionProvider(ResourceProvider):
    """Runs one Elastic Job execution per resource; see docs/resources.md for the identity and waiting semantics."""

    serialize_as_secret_always = False
    operations_class: type[Executions] = Executions

    def __init__(self) -> None:
        super().__init__()
        self.connection = Connection()
        self.operations = self.operations_class(self.connection)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by reference with no state: nothing configured in this process travels to state.
        return (type(self), ())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def configure(self, req: ConfigureRequest) -> None:
        plugin_errors.install()
        self.connection.configure({key: req.config.get(key) for key in _namespaced(CONFIG_KEYS)})

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate; and when the inputs start a run, show its plan (the dynamic plugin's one call in a preview),
        once: a replacement is checked twice, with its old inputs and then with none (:func:`shown_already`)."""
        olds = from_engine(olds)
        checked = self.operations.check(olds, from_engine(news))
        progress = Progress.here()
        if checked.failures:
            failures = [CheckFailure(name, reason) for name, reason in checked.failures.items()]
            return CheckResult(checked.inputs, failures)
        replacing = bool(olds) and bool(self.operations.diff(olds, checked.inputs).replaces)
        if not shown_already(progress.urn, replacing, not olds, checked.inputs):
            self.operations.announce_plan(olds, checked.inputs, progress)
        return CheckResult(checked.inputs, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        diffed = self.operations.diff(from_engine(olds), from_engine(news))
        return DiffResult(changes=diffed.changes, replaces=diffed.replaces, stables=[], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        created = self.operations.create(props, Progress.here())
        return CreateResult(created.id, created.outputs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        found = self.operations.read(id_, props)
        return ReadResult(found.id, found.outputs, found.inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self.operations.update(id_, olds, news, Progress.here()))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.operations.delete(id_, props)


class JobExecutionSetProvider(JobExecutionProvider):
    """Starts a set of executions together and waits for all of them in one call (see ``ExecutionSets``)."""

    operations_class = ExecutionSets


def from_engine(value: Any) -> Any:
    """The plugin hands Check and Diff a preview's unknowns as ``pulumi.output.Unknown`` objects, at any depth; the
    core knows them as the UNKNOWN marker (the engine's own wire string, which the plugin sends back as unknown)."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {key: from_engine(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_engine(item) for item in value]
    return value


def _namespaced(keys: tuple[str, ...]) -> list[str]:
    from .config import NAMESPACE

    return [f"{NAMESPACE}:{key}" for key in keys]
