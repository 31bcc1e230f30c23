"""Pure logic: ids, inputs, settings, token caching, wire models. No sockets."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_azure_elastic_jobs.auth import CLOUDS, AzureIdentityToken
from pulumi_azure_elastic_jobs.config import Settings
from pulumi_azure_elastic_jobs.ids import ExecutionRef, JobRef, segment
from pulumi_azure_elastic_jobs.inputs import ExecutionInputs, validate
from pulumi_azure_elastic_jobs.models import JobExecution, is_terminal

SUB = "00000000-0000-0000-0000-000000000000"


def test_an_execution_id_round_trips_through_its_arm_id() -> None:
    ref = JobRef(SUB, "group-1", "server1", "agent 1", "job.one").execution("5A86BF65-43AC-F258-2524-9E92992F97CA")
    assert ExecutionRef.parse(ref.arm_id) == ref
    assert "/jobAgents/agent%201/" in ref.path
    with pytest.raises(ValueError, match="not a job execution ARM id"):
        ExecutionRef.parse("/subscriptions/x/resourceGroups/g")


def test_every_name_is_encoded_as_exactly_one_path_segment() -> None:
    assert segment("../x/y?z#w%") == "..%2Fx%2Fy%3Fz%23w%25"


def test_derived_ids_are_stable_and_differ_by_generation_triggers_and_resource() -> None:
    base = {
        "subscription_id": SUB,
        "resource_group_name": "g",
        "server_name": "s",
        "job_agent_name": "a",
        "job_name": "j",
        "execution_key": "p/dev/run",
    }
    one = ExecutionInputs(**base)
    assert one.derived_execution_id(0) == ExecutionInputs(**base).derived_execution_id(0)
    assert one.derived_execution_id(0) != one.derived_execution_id(1)
    assert one.derived_execution_id(0) != ExecutionInputs(**base, triggers={"v": 2}).derived_execution_id(0)
    assert one.derived_execution_id(0) != ExecutionInputs(
        **{**base, "execution_key": "p/dev/other"}
    ).derived_execution_id(0)
    assert one.derived_execution_id(0) == ExecutionInputs(**{**base, "job_name": "J"}).derived_execution_id(0)


def test_check_fills_defaults_and_the_subscription_from_configuration() -> None:
    checked, problems = validate(
        ExecutionInputs,
        {"resource_group_name": "g", "server_name": "s", "job_agent_name": "a", "job_name": "j", "timeout": 60},
        default_subscription_id=SUB,
    )
    assert problems == {}
    assert checked["subscription_id"] == SUB and checked["timeout"] == 60.0
    assert checked["api_version"] == "2025-01-01" and checked["fail_on"] == ["Failed", "TimedOut", "Canceled"]
    _, missing = validate(
        ExecutionInputs,
        {"resource_group_name": "g", "server_name": "s", "job_agent_name": "a", "job_name": "j"},
        default_subscription_id=None,
    )
    assert "AZURE_SUBSCRIPTION_ID" in missing["subscription_id"]


def test_unknown_values_during_preview_are_not_judged() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    _, problems = validate(
        ExecutionInputs,
        {
            "resource_group_name": "g",
            "server_name": "s",
            "job_agent_name": "a",
            "job_name": unknown,
            "triggers": {"after": unknown},
        },
        default_subscription_id=SUB,
    )
    assert problems == {}


def test_settings_resolve_inputs_then_config_then_environment() -> None:
    env_sub, cfg_sub = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    env = {
        "AZURE_SUBSCRIPTION_ID": env_sub,
        "AZURE_ELASTIC_JOBS_ENDPOINT": "http://env",
        "AZURE_ENVIRONMENT": "china",
    }
    from_env = Settings.resolve({}, env=env)
    assert (from_env.subscription_id, from_env.endpoint, from_env.environment) == (env_sub, "http://env", "china")
    assert from_env.subscription_source == "environment variable AZURE_SUBSCRIPTION_ID"
    from_config = Settings.resolve(
        {"azure-elastic-jobs:subscriptionId": cfg_sub, "azure-elastic-jobs:endpoint": "http://cfg/"}, env=env
    )
    assert (from_config.subscription_id, from_config.endpoint) == (cfg_sub, "http://cfg")
    assert from_config.subscription_source == "config azure-elastic-jobs:subscriptionId"
    assert Settings.resolve({}, env={}).endpoint == "https://management.azure.com"
    assert (
        Settings.resolve({}, env={"AZURE_ENVIRONMENT": "AzureUSGovernment"}).endpoint
        == "https://management.usgovcloudapi.net"
    )
    with pytest.raises(ValueError, match="environment"):
        Settings.resolve({"azure-elastic-jobs:environment": "mars"}, env={})


def test_tokens_are_cached_and_refreshed_before_they_lapse() -> None:
    issued: list[str] = []

    class FakeCredential:
        def get_token(self, scope: str) -> Any:
            issued.append(scope)
            lifetime = 60 if len(issued) == 1 else 3600  # the first token is about to lapse
            return type("AccessToken", (), {"token": f"t{len(issued)}", "expires_on": time.time() + lifetime})()

    source = AzureIdentityToken(CLOUDS["usgovernment"])
    source._credential = FakeCredential()
    assert source.token() == "t1"
    assert source.token() == "t2"  # under the 5-minute margin: refreshed
    assert source.token() == "t2"  # cached
    source.invalidate()
    assert source.token() == "t3"
    assert issued == ["https://management.usgovcloudapi.net/.default"] * 3
    with pytest.raises(TypeError):
        __import__("pickle").dumps(source)


def test_wire_models_keep_unknown_fields_and_lifecycles() -> None:
    execution = JobExecution.model_validate(
        {"properties": {"lifecycle": "Hibernating", "newThing": 1, "currentAttempts": 2}, "extra": True}
    )
    assert execution.properties.lifecycle == "Hibernating" and execution.properties.current_attempts == 2
    assert not is_terminal("Hibernating") and is_terminal("SucceededWithSkipped")
    assert execution.to_wire()["properties"]["newThing"] == 1


@pytest.mark.parametrize("used", [0, 1, 2, 3, 7, 8, 9, 10, 100, 999, 1000, 4097])
def test_first_free_finds_the_end_of_a_chain_in_logarithmic_reads(used: int) -> None:
    from pulumi_azure_elastic_jobs.runs import first_free

    probed: list[int] = []

    def is_free(generation: int) -> bool:
        probed.append(generation)
        return generation >= used

    assert first_free(is_free) == used
    assert len(probed) == len(set(probed))  # no generation is read twice
    assert len(probed) <= 2 * math.ceil(math.log2(used + 1)) + 1, probed


def test_unchanged_inputs_are_taken_as_recorded_and_anything_else_is_validated() -> None:
    from pulumi_azure_elastic_jobs.provider import unchanged_inputs
    from pulumi_azure_elastic_jobs.terms import FIELDS

    agent = {"subscription_id": SUB, "resource_group_name": "g", "server_name": "s", "job_agent_name": "a"}
    program = {**agent, "job_name": "nightly", "timeout": 600, "triggers": {"release": "1"}}
    checked, problems = validate(ExecutionInputs, program, SUB)
    assert problems == {}
    assert unchanged_inputs(FIELDS, checked, program, SUB) == checked
    program_without_sub = {key: value for key, value in program.items() if key != "subscription_id"}
    assert unchanged_inputs(FIELDS, checked, program_without_sub, SUB) == checked
    for changed in (
        {"timeout": 601},
        {"triggers": {"release": "2"}},
        {"wait_for_completion": True},
        {"job_name": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},  # unknown during a preview
        {"fail_on": ["Failed"]},
    ):
        assert unchanged_inputs(FIELDS, checked, {**program, **changed}, SUB) is None, changed
    assert unchanged_inputs(FIELDS, checked, program_without_sub, "11111111-1111-1111-1111-111111111111") is None
    assert unchanged_inputs(FIELDS, {}, program, SUB) is None
    imported = {key: value for key, value in checked.items() if key not in ("timeout", "api_version")}
    assert unchanged_inputs(FIELDS, imported, program_without_sub, SUB) is None  # not what validation made


def test_a_waited_set_lists_by_creation_only_runs_created_close_together() -> None:
    """Where a listing by creation time starts: the earliest run, while every creation time is known and they lie
    within an hour; else nowhere (the round lists the job's active runs), so a set whose wait resumed beside new
    members does not list every run of the job in between, each round."""
    from datetime import UTC, datetime, timedelta

    from pulumi_azure_elastic_jobs.client import _earliest

    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert _earliest([start + timedelta(seconds=2), start]) == start
    assert _earliest([start, None]) is None
    assert _earliest([]) is None
    assert _earliest([start, start + timedelta(hours=2)]) is None


def test_a_no_change_check_in_a_fresh_plugin_loads_no_validator() -> None:
    """Most of a no-change preview's time in this provider was pydantic's import; a Check of recorded inputs never
    loads it, nor the plan's reads. Found by benchmark 7 (1.21x -> 1.30x): a preview warning's import at the top of
    the plan hook loaded the validator on every Check."""
    import json
    import subprocess
    import sys

    from pulumi_azure_elastic_jobs.provider import JobExecutionProvider, JobExecutionSetProvider

    agent = {"subscription_id": SUB, "resource_group_name": "g", "server_name": "s", "job_agent_name": "a"}
    member = {"job_name": "j", "expected_plan": "v1"}
    for provider, news in (
        (JobExecutionProvider, {**agent, "job_name": "j", "expected_plan": "v1"}),
        (JobExecutionSetProvider, {**agent, "members": {"m": member}}),
    ):
        recorded = provider().check({}, news).inputs
        code = (
            "import json, sys\n"
            f"from pulumi_azure_elastic_jobs.provider import {provider.__name__}\n"
            f"{provider.__name__}().check(json.loads({json.dumps(json.dumps(recorded))}), "
            f"json.loads({json.dumps(json.dumps(news))}))\n"
            "print(json.dumps(sorted(sys.modules)))\n"
        )
        ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        loaded = json.loads(ran.stdout)
        heavy = [m for m in loaded if m.split(".")[0] == "pydantic" or m.endswith((".inputs", ".planning"))]
        assert heavy == [], provider.__name__


def test_an_unknown_member_pin_is_a_change_in_the_preview_as_its_value_is_in_the_up() -> None:
    """A pin that is another resource's output is unknown in the preview and known in the ``up``: both must say the
    members change (else ``up --plan`` meets an update its preview did not plan); a pin alone never re-runs."""
    from pulumi_azure_elastic_jobs.operations import Connection, ExecutionSets
    from pulumi_azure_elastic_jobs.terms import UNKNOWN

    sets = ExecutionSets(Connection())
    agent = {"subscription_id": SUB, "resource_group_name": "g", "server_name": "s", "job_agent_name": "a"}
    olds = {**agent, "members": {"m": {"job_name": "j"}}}
    for pin in (UNKNOWN, "v2"):
        diffed = sets.diff(olds, {**agent, "members": {"m": {"job_name": "j", "expected_plan": pin}}})
        assert diffed.updates == ["members"] and diffed.replaces == [], pin


_TRIGGER_VALUES = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.text(max_size=3), st.booleans())
_MEMBERS = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.fixed_dictionaries(
        {"job_name": st.sampled_from(["j1", "j2"])},
        optional={
            "triggers": st.dictionaries(st.sampled_from(["x", "y"]), _TRIGGER_VALUES, max_size=2),
            "job_execution_id": st.sampled_from([None, "5f2a9c01-b7d4-4e5f-8a9b-0c1d2e3f4a5b"]),
            "expected_plan": st.sampled_from([None, "v1", "v2 server1=2"]),
        },
    ),
    min_size=1,
    max_size=3,
)


@given(recorded_members=_MEMBERS, news_members=_MEMBERS)
def test_a_set_taken_as_recorded_is_exactly_what_validating_it_gives(
    recorded_members: dict[str, Any], news_members: dict[str, Any]
) -> None:
    """A no-change Check of a set skips the validator only when validating would give back the recorded inputs:
    members omitted fields filled, ``1`` never taken for ``1.0`` nor ``True``; and members equal up to their
    defaults are always taken as recorded (the fast path is taken, not just safe)."""
    from pulumi_azure_elastic_jobs.inputs import SetInputs
    from pulumi_azure_elastic_jobs.operations import unchanged_inputs
    from pulumi_azure_elastic_jobs.terms import SET_FIELDS

    agent = {"subscription_id": SUB, "resource_group_name": "g", "server_name": "s", "job_agent_name": "a"}
    recorded, problems = validate(SetInputs, {**agent, "members": recorded_members}, None)
    assert problems == {}
    news = {**agent, "members": news_members}
    taken = unchanged_inputs(SET_FIELDS, recorded, news, None)
    validated, _ = validate(SetInputs, news, None)
    if taken is not None:
        assert json.dumps(taken, sort_keys=True) == json.dumps(validated, sort_keys=True)
    if json.dumps(validated, sort_keys=True) == json.dumps(recorded, sort_keys=True):
        assert taken is not None
