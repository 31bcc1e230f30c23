"""The dynamic resource provider: check/diff/create/read/update/delete around the execution PUT. Thin.

It translates between Pulumi property maps and the client's typed calls; rules about ARM live in the client.
The engine pickles this object (dill) into every resource's state and revives it in the plugin process: it
pickles by reference to this installed class with no state at all (see ``__reduce__``), so ``__provider`` is a
few dozen bytes, carries no secret, and does not change between releases. Settings, credentials and the HTTP
client are built lazily in the plugin process, once, and shared by its four worker threads.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

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

from .config import NAMESPACE, Settings
from .errors import ExecutionFailed, NotFound
from .ids import ExecutionRef
from .inputs import (
    FIELDS,
    IDENTITY_FIELDS,
    SET_FIELDS,
    SET_IDENTITY_FIELDS,
    SET_WAITING_FIELDS,
    WAITING_FIELDS,
    ExecutionInputs,
    SetInputs,
    validate,
)
from .models import DEFAULT_API_VERSION, JobExecution, is_terminal

if TYPE_CHECKING:
    from .client import ElasticJobsClient, PutResult

log = logging.getLogger(__name__)

MAX_GENERATIONS = 1000
CANCEL_WAIT_SECONDS = 300.0
_CONFIG_KEYS = (
    "endpoint",
    "environment",
    "subscriptionId",
    "token",
    "caBundle",
    "tenantId",
    "clientId",
    "clientSecret",
    "retryBudget",
)


# Outputs copied straight from the ARM execution's properties, then the ones shaped or added here.
PROPERTY_OUTPUTS = (
    "lifecycle",
    "last_message",
    "provisioning_state",
    "create_time",
    "start_time",
    "end_time",
    "current_attempts",
    "current_attempt_start_time",
    "job_version",
    "step_id",
    "step_name",
)
OUTPUT_NAMES = (*PROPERTY_OUTPUTS, "target", "system_data", "name", "type", "azure_id", "job_execution_id")


def execution_outputs(execution: JobExecution, ref: ExecutionRef) -> dict[str, Any]:
    """Every property of the execution in snake_case, plus ``azure_id`` and ``job_execution_id``."""
    props = execution.properties
    wire = props.model_dump(mode="json", exclude_none=False)
    outputs = {key: wire.get(key) for key in PROPERTY_OUTPUTS}
    outputs["target"] = props.target.model_dump(mode="json") if props.target else None
    outputs["system_data"] = execution.system_data.model_dump(mode="json") if execution.system_data else None
    outputs["name"] = execution.name or ref.job_execution_id
    outputs["type"] = execution.type
    outputs["azure_id"] = ref.arm_id
    outputs["job_execution_id"] = ref.job_execution_id
    return outputs


class JobExecutionProvider(ResourceProvider):
    """Runs one Elastic Job execution per resource; see the README for the identity and waiting semantics."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._config: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._clients: dict[str, ElasticJobsClient] = {}
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by reference with no state: nothing configured in this process travels to state.
        return (type(self), ())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- plumbing ----------------------------------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        self._config = {f"{NAMESPACE}:{key}": req.config.get(f"{NAMESPACE}:{key}") for key in _CONFIG_KEYS}
        with self._lock:
            self._settings = None
        _enable_logging(os.environ.get("AZURE_ELASTIC_JOBS_LOG_LEVEL"))

    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = Settings.resolve(self._config)
            return self._settings

    def client(self, api_version: str) -> ElasticJobsClient:
        settings = self.settings()
        with self._lock:
            client = self._clients.get(api_version)
            if client is None:
                from .client import ElasticJobsClient  # requests and tenacity load on first use only

                client = ElasticJobsClient(
                    settings.endpoint,
                    settings.token_source(),
                    api_version=api_version,
                    retry_budget_seconds=settings.retry_budget_seconds,
                    verify=settings.ca_bundle or True,
                )
                self._clients[api_version] = client
            return client

    # --- lifecycle hooks ---------------------------------------------------------------------------------------

    inputs_model: type[ExecutionInputs | SetInputs] = ExecutionInputs

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate every input before any request: one failure per bad field, naming it."""
        try:
            default_subscription = self.settings().subscription_id
        except ValueError as error:
            return CheckResult(dict(news), [CheckFailure("subscription_id", str(error))])
        checked, problems = validate(self.inputs_model, news, default_subscription)
        return CheckResult(checked, [CheckFailure(field, reason) for field, reason in problems.items()])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Identity changes replace (a new run); waiting options update in place; nothing else is a change."""
        changed = [name for name in FIELDS if name != "execution_key" and _differs(name, olds, news)]
        replaces = [name for name in changed if name in IDENTITY_FIELDS]
        updates = [name for name in changed if name in WAITING_FIELDS]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=[],
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = ExecutionInputs.model_validate(props)
        client = self.client(inputs.api_version)
        ref, result = self._start_or_attach(client, inputs)
        log.info("%s %s", "started" if result.started_new_run else "attached to", ref.arm_id)
        execution = self._settle(client, ref, inputs, result.execution)
        return CreateResult(ref.arm_id, _as_struct_numbers({**_inputs_of(inputs), **execution_outputs(execution, ref)}))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh, ``.get`` and import: everything comes from the ARM id; a vanished execution reads as gone."""
        ref = ExecutionRef.parse(id_)
        known = {key: value for key, value in props.items() if key in FIELDS and value is not None}
        known.update(
            subscription_id=ref.job.subscription_id,
            resource_group_name=ref.job.resource_group_name,
            server_name=ref.job.server_name,
            job_agent_name=ref.job.job_agent_name,
            job_name=ref.job.job_name,
        )
        inputs = ExecutionInputs.model_validate(_coerce_numbers(known))
        try:
            execution = self.client(inputs.api_version).get_execution(ref)
        except NotFound:
            return ReadResult("", {})
        outputs = _as_struct_numbers({**_inputs_of(inputs), **execution_outputs(execution, ref)})
        if "azure_id" in props:
            return ReadResult(ref.arm_id, outputs)  # refresh: the declared inputs stay as they were
        return ReadResult(ref.arm_id, outputs, known)  # import or get: inputs as the id and program give them

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Never a new run: apply the waiting options to the existing execution and read it again."""
        inputs = ExecutionInputs.model_validate(news)
        ref = ExecutionRef.parse(id_)
        client = self.client(inputs.api_version)
        execution = self._settle(client, ref, inputs, client.get_execution(ref))
        return UpdateResult(_as_struct_numbers({**_inputs_of(inputs), **execution_outputs(execution, ref)}))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """ARM has no DELETE for executions: cancel an active one (unless cancel_on_destroy=False), then forget."""
        ref = ExecutionRef.parse(id_)
        inputs = ExecutionInputs.model_validate(
            _coerce_numbers({key: value for key, value in props.items() if key in FIELDS and value is not None})
        )
        if not inputs.cancel_on_destroy:
            return
        client = self.client(inputs.api_version)
        try:
            if is_terminal(client.get_execution(ref).properties.lifecycle):
                return
            client.cancel_execution(ref)
            client.wait_for_terminal(ref, timeout=CANCEL_WAIT_SECONDS, poll_interval=inputs.poll_interval)
        except NotFound:
            return

    # --- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def _start_or_attach(client: ElasticJobsClient, inputs: ExecutionInputs) -> tuple[ExecutionRef, PutResult]:
        """PUT the execution; without a user-given id, walk this resource's id chain to the first free slot.

        A slot whose execution is still active is adopted (an interrupted deployment re-attaches, so there is
        never a second concurrent run from this resource); a finished one belongs to an earlier life of the
        resource (destroyed, or replaced), so the walk moves on and starts a new run.
        """
        if inputs.job_execution_id:
            ref = inputs.job.execution(inputs.job_execution_id)
            return ref, client.put_execution(ref)
        for generation in range(MAX_GENERATIONS):
            ref = inputs.job.execution(inputs.derived_execution_id(generation))
            result = client.put_execution(ref)
            if result.started_new_run or not is_terminal(result.execution.properties.lifecycle):
                return ref, result
        raise RuntimeError(f"more than {MAX_GENERATIONS} earlier runs of this resource; set job_execution_id")

    @staticmethod
    def _settle(
        client: ElasticJobsClient, ref: ExecutionRef, inputs: ExecutionInputs, execution: JobExecution
    ) -> JobExecution:
        if not inputs.wait_for_completion:
            return execution
        if not is_terminal(execution.properties.lifecycle):
            execution = client.wait_for_terminal(
                ref, timeout=inputs.timeout, poll_interval=inputs.poll_interval, on_progress=_log_progress
            )
        lifecycle = str(execution.properties.lifecycle)
        if lifecycle in inputs.fail_on:
            raise ExecutionFailed(ref.arm_id, lifecycle, client.explain(ref, execution))
        return execution


def _inputs_of(inputs: ExecutionInputs) -> dict[str, Any]:
    return inputs.model_dump(exclude={"job_execution_id"})


def _as_struct_numbers(values: dict[str, Any]) -> dict[str, Any]:
    """Every number as a float, as a protobuf Struct carries it, so outputs read the same before and after the
    engine's round trip (a direct ``read`` and a ``pulumi refresh`` agree to the type)."""
    return {key: _as_struct_number(value) for key, value in values.items()}


def _as_struct_number(value: Any) -> Any:
    if isinstance(value, dict):
        return _as_struct_numbers(value)
    if isinstance(value, list):
        return [_as_struct_number(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _differs(name: str, olds: dict[str, Any], news: dict[str, Any]) -> bool:
    if name == "job_execution_id" and news.get(name) is None:
        return False  # chosen by the provider: whatever it chose stands
    old, new = olds.get(name), news.get(name)
    if name == "triggers":
        return (old or {}) != (new or {})
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) != float(new)
    return bool(old != new)


def _coerce_numbers(values: dict[str, Any]) -> dict[str, Any]:
    for name in ("timeout", "poll_interval"):
        if isinstance(values.get(name), int):
            values[name] = float(values[name])
    return values


def _enable_logging(level: str | None) -> None:
    """The plugin's stderr reaches the CLI's verbose log (``pulumi up -v=9 --logtostderr``); opt in by level."""
    package = logging.getLogger("pulumi_azure_elastic_jobs")
    if not level or package.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    package.addHandler(handler)
    package.setLevel(level.upper())


def _log_progress(execution: JobExecution) -> None:
    props = execution.properties
    log.info("execution %s: %s (%s)", props.job_execution_id, props.lifecycle, props.last_message)


class JobExecutionSetProvider(JobExecutionProvider):
    """Starts a set of executions together and waits for all of them in one call.

    The plugin serves four calls at a time, so 32 waited ``JobExecution`` resources take about 8 x T; one set
    of 32 takes about T. Each member keeps its own identity (job, triggers, derived id chain), so changing
    one member's triggers re-runs only that member. Member outcomes never fail the deployment by themselves:
    they are outputs (``executions``, ``failed_members``, ``finished``), and a timeout leaves the set recorded
    with its members still running, so the next ``up`` resumes waiting instead of losing track of them.
    """

    inputs_model = SetInputs

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [name for name in SET_IDENTITY_FIELDS if _differs(name, olds, news)]
        updates = [name for name in SET_WAITING_FIELDS if _differs(name, olds, news)]
        if _members_of(olds) != _members_of(news):
            updates.append("members")
        if news.get("wait_for_completion") and not olds.get("finished", True):
            updates.append("executions")  # members still running after a timeout: resume waiting
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, stables=[], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = SetInputs.model_validate(props)
        refs = self._start_members(inputs, list(inputs.members))
        set_id = f"jobexecutionset/{uuid.uuid5(uuid.NAMESPACE_URL, inputs.execution_key + inputs.job_agent_name)}"
        return CreateResult(set_id, self._settle_set(inputs, refs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = SetInputs.model_validate(news)
        previous = _members_of(olds)
        kept = {
            key: ExecutionRef.parse(olds["executions"][key]["azure_id"])
            for key in inputs.members
            if key in previous and previous[key] == _members_of(news)[key] and key in (olds.get("executions") or {})
        }
        started = self._start_members(inputs, [key for key in inputs.members if key not in kept])
        removed = [
            ExecutionRef.parse(item["azure_id"])
            for key, item in (olds.get("executions") or {}).items()
            if key not in inputs.members
        ]
        if removed and inputs.cancel_on_destroy:
            self._cancel_all(self.client(inputs.api_version), removed, inputs.poll_interval)
        return UpdateResult(self._settle_set(inputs, {**kept, **started}))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        known = {key: value for key, value in props.items() if key in SET_FIELDS and value is not None}
        inputs = SetInputs.model_validate(_coerce_numbers(known))
        client = self.client(inputs.api_version)
        refs = {key: ExecutionRef.parse(item["azure_id"]) for key, item in (props.get("executions") or {}).items()}

        def fetch(item: tuple[str, ExecutionRef]) -> tuple[str, JobExecution | None]:
            try:
                return item[0], client.get_execution(item[1])
            except NotFound:
                return item[0], None

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(refs)))) as pool:
            found = {key: execution for key, execution in pool.map(fetch, refs.items()) if execution is not None}
        if not found:
            return ReadResult("", {})
        return ReadResult(id_, self._outputs(inputs, {key: (refs[key], found[key]) for key in found}))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("cancel_on_destroy") is False:
            return
        refs = [ExecutionRef.parse(item["azure_id"]) for item in (props.get("executions") or {}).values()]
        self._cancel_all(
            self.client(str(props.get("api_version") or DEFAULT_API_VERSION)),
            refs,
            float(props.get("poll_interval") or 30),
        )

    # --- helpers ----------------------------------------------------------------------------------------------

    def _start_members(self, inputs: SetInputs, keys: list[str]) -> dict[str, ExecutionRef]:
        client = self.client(inputs.api_version)

        def start(key: str) -> tuple[str, ExecutionRef]:
            ref, _ = self._start_or_attach(client, inputs.member(key))
            return key, ref

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(keys)))) as pool:
            return dict(pool.map(start, keys))

    def _settle_set(self, inputs: SetInputs, refs: dict[str, ExecutionRef]) -> dict[str, Any]:
        client = self.client(inputs.api_version)
        ordered = list(refs.items())
        if inputs.wait_for_completion:
            latest, finished = client.wait_for_all(
                [ref for _, ref in ordered], timeout=inputs.timeout, poll_interval=inputs.poll_interval
            )
            if not finished:
                log.warning(
                    "%d executions still running after %g s; the next up resumes waiting",
                    sum(not is_terminal(e.properties.lifecycle) for e in latest.values()),
                    inputs.timeout,
                )
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(16, len(ordered)))) as pool:
                latest = dict(
                    zip(
                        [ref for _, ref in ordered],
                        pool.map(client.get_execution, [ref for _, ref in ordered]),
                        strict=True,
                    )
                )
        return self._outputs(inputs, {key: (ref, latest[ref]) for key, ref in ordered})

    @staticmethod
    def _outputs(inputs: SetInputs, results: dict[str, tuple[ExecutionRef, JobExecution]]) -> dict[str, Any]:
        executions = {
            key: {"job_name": ref.job.job_name, **execution_outputs(execution, ref)}
            for key, (ref, execution) in sorted(results.items())
        }
        lifecycles = {key: item["lifecycle"] for key, item in executions.items()}
        return _as_struct_numbers(
            {
                **inputs.model_dump(),
                "executions": executions,
                "failed_members": sorted(key for key, value in lifecycles.items() if value in inputs.fail_on),
                "finished": all(is_terminal(value) for value in lifecycles.values()),
            }
        )

    @staticmethod
    def _cancel_all(client: ElasticJobsClient, refs: list[ExecutionRef], poll_interval: float) -> None:
        def cancel(ref: ExecutionRef) -> ExecutionRef | None:
            try:
                if is_terminal(client.get_execution(ref).properties.lifecycle):
                    return None
                client.cancel_execution(ref)
                return ref
            except NotFound:
                return None

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(refs)))) as pool:
            cancelled = [ref for ref in pool.map(cancel, refs) if ref is not None]
        if cancelled:
            client.wait_for_all(cancelled, timeout=CANCEL_WAIT_SECONDS, poll_interval=poll_interval)


def _members_of(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Member identities, normalized so that an omitted field and its default compare equal."""
    members = props.get("members") or {}
    return {
        key: {
            "job_name": value.get("job_name"),
            "triggers": value.get("triggers") or {},
            "job_execution_id": value.get("job_execution_id"),
        }
        for key, value in members.items()
        if isinstance(value, dict)
    }
