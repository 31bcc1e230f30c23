"""The native provider: ``pulumi.provider.experimental.Provider`` hooks over :mod:`..operations`. Translation only.

What this face adds to the dynamic one is what the native protocol gives: the request's URN (status on the
row without digging), ``customTimeouts`` (a shorter wait), ``Cancel`` (waits end at once, runs are left as they
are), a detailed diff, ``read`` from an id alone (``pulumi import``), and no cap on concurrent calls: every
blocking call runs on a pool of its own threads, so 32 waited resources wait together.

Names: the engine speaks the schema's camelCase, the core the catalog's snake_case. User-given maps
(``triggers``, a set's member keys, outcome counts by lifecycle) keep their keys untouched.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    GetSchemaRequest,
    GetSchemaResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)

from ..catalog import camel, snake
from ..config import NAMESPACE
from ..errors import Cancelled, ElasticJobsError, StartedButUnsettled
from ..operations import CONFIG_KEYS, Connection, Executions, ExecutionSets
from ..plan import given_digest
from ..progress import Progress
from ..terms import UNKNOWN, is_unknown
from . import views
from .schema import JOB_EXECUTION, JOB_EXECUTION_SET, schema
from .spelling import spelled

T = TypeVar("T")
OPAQUE = frozenset({"triggers", "step_scripts", "counts", "servers", "by_database"})
"""Maps whose keys are the user's or the service's own (step names among them): never renamed."""
KEYED = frozenset({"members", "executions"})
"""Maps keyed by the user's member keys, whose values are ours: keys kept, values renamed."""
MAX_CONCURRENT_CALLS = 64


def to_core(value: Any, key: str | None = None) -> Any:
    """camelCase property names to the core's snake_case, recursively, leaving user-keyed maps alone."""
    if isinstance(value, Mapping):
        if key in OPAQUE:
            return dict(value)
        if key in KEYED:
            return {name: to_core(item) for name, item in value.items()}
        return {snake(name): to_core(item, snake(name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_core(item) for item in value]
    return value


def to_engine(value: Any, key: str | None = None) -> Any:
    """The core's snake_case names to camelCase, recursively; the inverse of :func:`to_core`."""
    if isinstance(value, Mapping):
        if key in OPAQUE:
            return dict(value)
        if key in KEYED:
            return {name: to_engine(item) for name, item in value.items()}
        return {camel(name): to_engine(item, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_engine(item) for item in value]
    return value


def plain(value: PropertyValue) -> Any:
    """A property value as plain data: secrets unwrapped (they never reach state or logs from here), unknowns as
    the UNKNOWN marker validation skips, maps and lists recursively."""
    inner = value.value
    if isinstance(inner, Computed):
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {key: plain(item) for key, item in inner.items()}
    if isinstance(inner, tuple | list):
        return [plain(item) for item in inner]
    return inner


def wrapped(value: Any, secret: bool = False) -> PropertyValue:
    """Plain data as a property value (numbers as floats, as the wire carries them).

    An unknown stays the UNKNOWN string, which is the engine's own wire form of an unknown: the SDK cannot
    marshal ``PropertyValue.computed()`` (at any depth), so that is never built here."""
    if isinstance(value, Mapping):
        return PropertyValue({key: wrapped(item) for key, item in value.items()}, is_secret=secret)
    if isinstance(value, list | tuple):
        return PropertyValue([wrapped(item) for item in value], is_secret=secret)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return PropertyValue(value, is_secret=secret)


def from_engine(properties: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return dict(to_core({key: plain(value) for key, value in properties.items()}))


def for_engine(values: Mapping[str, Any], secrets: frozenset[str] = frozenset()) -> dict[str, PropertyValue]:
    """Core values as the engine's property map; names in ``secrets`` (camelCase) stay secret."""
    renamed = to_engine({key: value for key, value in values.items() if value is not None})
    return {key: wrapped(value, key in secrets) for key, value in renamed.items()}


def secret_names(properties: Mapping[str, PropertyValue]) -> frozenset[str]:
    """The inputs that arrived secret (anywhere inside): their outputs of the same name stay secret."""
    return frozenset(key for key, value in properties.items() if value.contains_secret())


class ElasticJobsProvider(Provider):
    """Serves ``JobExecution`` and ``JobExecutionSet`` of package ``azure-elastic-jobs``."""

    def __init__(self, engine_address: str | None = None) -> None:
        self.engine_address = engine_address
        self.connection = Connection()
        self._cancelled = threading.Event()
        self.connection.sleep = self._pause
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="elastic-jobs")
        self._replaced: dict[str, dict[str, Any]] = {}
        """The recorded state of each resource a Diff said is replaced, by URN, until the Create of its preview
        (which the engine sends without it) compares the run's scripts with the last run's."""
        self._operations: dict[str, Executions] = {
            JOB_EXECUTION: Executions(self.connection),
            JOB_EXECUTION_SET: ExecutionSets(self.connection),
        }

    # --- plumbing ------------------------------------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        """A wait between polls or retries that a Cancel ends at once."""
        if self._cancelled.wait(max(0.0, seconds)):
            raise Cancelled()

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: call(*args))

    def _ops(self, type_: str) -> Executions:
        try:
            return self._operations[type_]
        except KeyError:
            raise ValueError(
                f"unknown resource type {type_!r}: this provider serves {sorted(self._operations)}"
            ) from None

    def _progress(self, urn: str) -> Progress:
        return Progress(urn, self.engine_address, spelled)

    # --- the protocol --------------------------------------------------------------------------------------------

    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=json.dumps(schema()))

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        given = {key: plain(value) for key, value in request.args.items()}
        for name, value in request.variables.items():  # "azure-elastic-jobs:config:endpoint" form
            given.setdefault(name.rsplit(":", 1)[-1], value)
        config = {f"{NAMESPACE}:{key}": _config_value(given.get(key)) for key in CONFIG_KEYS}
        self.connection.configure(config)
        return ConfigureResponse(accept_secrets=True, supports_preview=True, accept_resources=False)

    async def check(self, request: CheckRequest) -> CheckResponse:
        news = from_engine(request.new_inputs)
        news.setdefault("execution_key", request.urn)  # the URN names this resource in its stack
        checked = await self._run(self._ops(request.type).check, from_engine(request.old_inputs), news)
        failures = [
            CheckFailure(camel(name), reason.replace(name, camel(name), 1)) for name, reason in checked.failures.items()
        ]
        return CheckResponse(for_engine(checked.inputs, secret_names(request.new_inputs)), failures)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        recorded = from_engine(request.old_state)
        diffed = self._ops(request.type).diff(recorded, from_engine(request.new_inputs))
        if diffed.replaces:
            self._replaced[request.urn] = recorded
        detailed = {camel(name): PropertyDiff(PropertyDiffKind.UPDATE_REPLACE, True) for name in diffed.replaces}
        detailed.update({camel(name): PropertyDiff(PropertyDiffKind.UPDATE, True) for name in diffed.updates})
        return DiffResponse(
            changes=diffed.changes,
            replaces=[camel(name) for name in diffed.replaces],
            delete_before_replace=True,
            diffs=sorted(detailed),
            detailed_diff=detailed,
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        ops = self._ops(request.type)
        props = from_engine(request.properties)
        secrets = secret_names(request.properties)
        if request.preview:  # reads only: what the run will do where; what it will produce is unknown until it runs
            recorded = self._replaced.pop(request.urn, {})  # a replacement's last run; none for a new resource
            shown = digests_of_secret_scripts(props, secrets)
            announced = await self._run(ops.announce_plan, recorded, shown, self._progress(request.urn))
            outputs = preview_outputs(ops, props)
            if announced.plan is not None:
                outputs["plan"] = announced.plan.output()
            status = views.STATUS.get()
            if announced.by_member() and status is not None:  # rows under the resource, as config planRows asks
                await self._run(views.show_rows, status, request.urn, announced, ops.settings().plan_rows)
            return CreateResponse("", for_engine(outputs, secrets))
        try:
            created = await self._run(ops.create, props, self._progress(request.urn), request.timeout or None)
        except StartedButUnsettled as unsettled:
            raise PartlyCreated(unsettled.arm_id, for_engine(unsettled.outputs, secrets), unsettled) from unsettled
        return CreateResponse(created.id, for_engine(created.outputs, secrets))

    async def read(self, request: ReadRequest) -> ReadResponse:
        ops = self._ops(request.type)
        props = from_engine(request.properties)
        if not props:  # `pulumi import` and `get`: the id alone, with whatever inputs the program declares
            props = {key: value for key, value in from_engine(request.inputs).items() if key != "azure_id"}
        found = await self._run(ops.read, request.resource_id, props)
        inputs = found.inputs if found.inputs is not None else from_engine(request.inputs)
        secrets = secret_names(request.properties)
        return ReadResponse(found.id or None, for_engine(found.outputs, secrets), for_engine(inputs, secrets))

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        ops = self._ops(request.type)
        if request.preview:  # reads only, and only for members a set would start: their jobs' plans
            news = from_engine(request.news)
            await self._run(ops.announce_update, from_engine(request.olds), news, self._progress(request.urn))
            return UpdateResponse(for_engine(preview_outputs(ops, news), secret_names(request.news)))
        secrets = secret_names(request.news)
        try:
            outputs = await self._run(
                ops.update,
                request.resource_id,
                from_engine(request.olds),
                from_engine(request.news),
                self._progress(request.urn),
                request.timeout or None,
            )
        except StartedButUnsettled as unsettled:  # a set whose rollout halted: recorded as it stands, and failed
            raise PartlyCreated(request.resource_id, for_engine(unsettled.outputs, secrets), unsettled) from unsettled
        return UpdateResponse(for_engine(outputs, secrets))

    async def delete(self, request: DeleteRequest) -> None:
        await self._run(self._ops(request.type).delete, request.resource_id, from_engine(request.properties))

    async def cancel(self) -> None:
        """The engine is shutting the deployment down: every wait ends now, and no run is touched."""
        self._cancelled.set()


def digests_of_secret_scripts(props: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """The inputs a preview plans with: scripts that arrived secret only by their digests, so neither the plan's
    lines nor the diff against the last run show their text (a secret never reaches the diagnostics)."""
    if "stepScripts" not in secrets and "members" not in secrets:
        return dict(props)

    def hidden(scripts: Any) -> Any:
        if not isinstance(scripts, Mapping):
            return scripts
        return {name: given_digest(str(text)) if not is_unknown(text) else text for name, text in scripts.items()}

    def with_hidden(values: Mapping[str, Any]) -> dict[str, Any]:
        return {**values, "step_scripts": hidden(values["step_scripts"])} if "step_scripts" in values else dict(values)

    shown = with_hidden(props)
    members = props.get("members")
    if isinstance(members, Mapping):
        shown["members"] = {
            key: with_hidden(member) if isinstance(member, Mapping) else member for key, member in members.items()
        }
    return shown


def preview_outputs(ops: Executions, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A preview's outputs: the inputs as given, every output only a run can tell unknown."""
    return {**dict.fromkeys(ops.output_names, UNKNOWN), **inputs}


class PartlyCreated(ElasticJobsError):
    """A create whose run exists but did not settle, with the outputs the engine records for it (its
    "created but failed to initialize"): the next ``up`` updates the resource and waits for that same run."""

    def __init__(self, resource_id: str, properties: dict[str, PropertyValue], cause: ElasticJobsError) -> None:
        self.resource_id, self.properties = resource_id, properties
        super().__init__(str(cause))


def _config_value(value: Any) -> Any:
    """Config arrives as strings from ``variables`` and typed from ``args``; the core's settings take strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None if value is None else str(value)
