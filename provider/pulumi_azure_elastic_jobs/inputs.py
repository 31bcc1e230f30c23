"""The validated inputs of a JobExecution, and how its execution id is chosen. No I/O.

``check`` validates raw Pulumi property maps into :class:`ExecutionInputs` and turns every problem into one
message per field; ``create``/``update`` then read typed values. Values still unknown during a preview are
skipped, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .chain import ExecutionChain
from .ids import (
    JobRef,
    api_version_problem,
    child_name_problem,
    resource_group_problem,
    server_problem,
    uuid_problem,
)
from .plan import pin_problem, step_scripts_problem
from .terms import (
    DEFAULT_API_VERSION,
    DEFAULT_FAIL_ON,
    DEFAULT_POLL_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULTS,
    FIELDS,
    IDENTITY_FIELDS,
    MAX_TIMEOUT_SECONDS,
    MEMBER_FIELDS,
    SET_FIELDS,
    SET_IDENTITY_FIELDS,
    SET_WAITING_FIELDS,
    TERMINAL_LIFECYCLES,
    WAITING_FIELDS,
    is_unknown,
)
from .waves import DEFAULT_PASS_ON, PASSABLE_LIFECYCLES, waves_problem

__all__ = [
    "DEFAULT_POLL_INTERVAL_SECONDS",
    "FIELDS",
    "IDENTITY_FIELDS",
    "MEMBER_FIELDS",
    "SET_FIELDS",
    "SET_IDENTITY_FIELDS",
    "SET_WAITING_FIELDS",
    "WAITING_FIELDS",
    "ExecutionInputs",
    "SetInputs",
    "is_unknown",
    "validate",
]


def _rule(problem: Any) -> AfterValidator:
    def validate(value: str) -> str:
        message = problem(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(validate)


def _fail_on_rule(values: list[str]) -> list[str]:
    bad = [value for value in values if value not in TERMINAL_LIFECYCLES]
    if bad:
        raise ValueError(f"must name terminal lifecycles ({', '.join(sorted(TERMINAL_LIFECYCLES))}), got {bad}")
    return values


StepScripts = Annotated[dict[Annotated[StrictStr, _rule(child_name_problem)], StrictStr], _rule(step_scripts_problem)]
"""The steps this deployment deploys to the job, by step name: each one's script, or its ``sha256:`` digest."""


class AgentInputs(BaseModel):
    """What every resource here declares: the job agent, and how to wait and clean up."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    subscription_id: Annotated[StrictStr, _rule(uuid_problem)]
    resource_group_name: Annotated[StrictStr, _rule(resource_group_problem)]
    server_name: Annotated[StrictStr, _rule(server_problem)]
    job_agent_name: Annotated[StrictStr, _rule(child_name_problem)]
    api_version: Annotated[StrictStr, _rule(api_version_problem)] = DEFAULT_API_VERSION
    wait_for_completion: StrictBool = False
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False, strict=True)] = (
        DEFAULT_TIMEOUT_SECONDS
    )
    poll_interval: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False, strict=True)] = (
        DEFAULT_POLL_INTERVAL_SECONDS
    )
    fail_on: Annotated[list[StrictStr], AfterValidator(_fail_on_rule)] = Field(
        default_factory=lambda: list(DEFAULT_FAIL_ON)
    )
    cancel_on_destroy: StrictBool = True
    execution_key: StrictStr = ""


class ExecutionInputs(AgentInputs):
    """What a user declares for one execution; field names are the Pulumi property names."""

    job_name: Annotated[StrictStr, _rule(child_name_problem)]
    job_execution_id: Annotated[StrictStr, _rule(uuid_problem)] | None = None
    triggers: dict[str, Any] = Field(default_factory=dict)
    expected_plan: Annotated[StrictStr, _rule(pin_problem)] | None = None
    step_scripts: StepScripts | None = None
    job_id: StrictStr | None = None
    """The job's ARM id, when the program named the job by it: Check filled the names above from it."""

    @property
    def job(self) -> JobRef:
        return JobRef(
            self.subscription_id,
            self.resource_group_name,
            self.server_name,
            self.job_agent_name,
            self.job_name,
        )

    @property
    def chain(self) -> ExecutionChain:
        """This resource's chain of derived execution ids (see :mod:`.chain`)."""
        return ExecutionChain.of(self.execution_key, self.job.__dict__.values(), self.triggers)

    def derived_execution_id(self, generation: int) -> str:
        """The id of this resource's ``generation``-th run when the user names none.

        Derived from the stack-scoped resource key, the job and the triggers, so that a deployment interrupted
        after ARM accepted the PUT finds the same execution again instead of starting another.
        """
        return self.chain.id(generation)


if tuple(ExecutionInputs.model_fields) != FIELDS:  # terms.FIELDS names the model's fields for light importers
    raise RuntimeError(f"terms.FIELDS is out of date: {tuple(ExecutionInputs.model_fields)}")
if {
    name: field.get_default(call_default_factory=True)
    for name, field in ExecutionInputs.model_fields.items()
    if not field.is_required() and name not in ("job_execution_id", "expected_plan", "step_scripts", "job_id")
} != DEFAULTS:
    raise RuntimeError("terms.DEFAULTS is out of date with ExecutionInputs' defaults")


def _normalize(values: dict[str, Any]) -> dict[str, Any]:
    """Protobuf carries every number as a float; accept whole ints for the float fields, and bools stay bools."""
    for name in ("timeout", "poll_interval"):
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
    return values


def _message(field: str, error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return f"{field} is required"
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{field} {text[0].lower()}{text[1:]}" if text else f"{field} is invalid"


def validate(
    model: type[ExecutionInputs | SetInputs], news: Mapping[str, Any], default_subscription_id: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (checked inputs with defaults filled, {field: reason}) for a raw property map.

    Unknown values (a preview that depends on other resources) pass through unvalidated.
    """
    fields = model.model_fields
    raw = {key: value for key, value in news.items() if key in fields and value is not None}
    if "subscription_id" not in raw and default_subscription_id:
        raw["subscription_id"] = default_subscription_id
    unknown = {key for key, value in raw.items() if is_unknown(value)}
    problems: dict[str, str] = {}
    try:
        checked = model.model_validate(_normalize(dict(raw))).model_dump(exclude_none=True)
    except ValidationError as errors:
        for error in errors.errors():
            field = str(error["loc"][0]) if error["loc"] else "inputs"
            if field not in unknown and field not in problems:
                problems[field] = _message(".".join(str(part) for part in error["loc"]), error)
        checked = dict(raw)
    if "subscription_id" in problems and "subscription_id" not in raw:
        problems["subscription_id"] = (
            "subscription_id is required: set it on the resource, or config azure-elastic-jobs:subscriptionId, "
            "or the AZURE_SUBSCRIPTION_ID environment variable"
        )
    checked.update({key: raw[key] for key in unknown})
    return checked, problems


_MEMBER_KEY = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class MemberInputs(BaseModel):
    """One member of a JobExecutionSet: a job, the triggers that re-run just that member, and optionally the plan
    a reviewer approved for its run (checked like a JobExecution's, member by member)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    job_name: Annotated[StrictStr, _rule(child_name_problem)]
    triggers: dict[str, Any] = Field(default_factory=dict)
    job_execution_id: Annotated[StrictStr, _rule(uuid_problem)] | None = None
    expected_plan: Annotated[StrictStr, _rule(pin_problem)] | None = None
    step_scripts: StepScripts | None = None
    job_id: StrictStr | None = None


def _pass_on_rule(values: list[str]) -> list[str]:
    bad = [value for value in values if value not in PASSABLE_LIFECYCLES]
    if bad or not values:
        raise ValueError(f"must name one or more of {', '.join(sorted(PASSABLE_LIFECYCLES))}, got {values}")
    return values


class GateInputs(BaseModel):
    """When a wave of a rollout lets the next one start (see :class:`.waves.Gate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    pass_on: Annotated[list[StrictStr], AfterValidator(_pass_on_rule)] = Field(
        default_factory=lambda: list(DEFAULT_PASS_ON)
    )
    max_failed_targets: Annotated[int, Field(ge=0)] | None = None
    max_failed_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None


class SetInputs(AgentInputs):
    """A set of executions on one job agent, started together and waited for together, or wave by wave."""

    members: dict[Annotated[str, Field(pattern=_MEMBER_KEY)], MemberInputs] = Field(min_length=1, max_length=1000)
    waves: list[list[StrictStr]] | None = None
    gate: GateInputs | None = None

    @field_validator("waves")
    @classmethod
    def _every_member_in_one_wave(cls, waves: list[list[str]] | None, info: ValidationInfo) -> list[list[str]] | None:
        """Checked against the members as validated just before (a field declared earlier), before any request."""
        if waves is None or "members" not in info.data:
            return waves  # the members failed on their own, and say so
        problem = waves_problem(waves, list(info.data["members"]), bool(info.data.get("wait_for_completion", True)))
        if problem:
            raise ValueError(problem)
        return waves

    def member(self, key: str) -> ExecutionInputs:
        """The member as a single execution: its derived ids are its own, keyed by the set and the member."""
        shared = self.model_dump(exclude={"members", "execution_key"})
        return ExecutionInputs(**shared, **self.members[key].model_dump(), execution_key=f"{self.execution_key}/{key}")


if tuple(MemberInputs.model_fields) != MEMBER_FIELDS:
    raise RuntimeError(f"terms.MEMBER_FIELDS is out of date: {tuple(MemberInputs.model_fields)}")
if tuple(SetInputs.model_fields) != SET_FIELDS:
    raise RuntimeError(f"terms.SET_FIELDS is out of date: {tuple(SetInputs.model_fields)}")
