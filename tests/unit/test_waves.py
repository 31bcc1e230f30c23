"""The rollout's rules with no I/O: what a gate lets pass, what the ``rollout`` output says, and what Check refuses."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_azure_elastic_jobs.inputs import SetInputs, validate
from pulumi_azure_elastic_jobs.waves import Gate, judge, rollout

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def ended(lifecycle: str, **by_database: str) -> dict[str, Any]:
    """A member's ``executions`` entry for a run that ended ``lifecycle`` on these databases."""
    return {
        "azure_id": f"/runs/{lifecycle}",
        "lifecycle": lifecycle,
        "error": None,
        "target_outcomes": {"by_database": {f"server1/{db}": value for db, value in by_database.items()}},
    }


def test_the_default_gate_passes_a_wave_whose_members_all_succeeded_and_fails_one_failed_target() -> None:
    assert judge(["a"], {"a": ended("Succeeded", db1="Succeeded")}, Gate()).lifecycle == "Succeeded"
    verdict = judge(["a", "b"], {"a": ended("Succeeded", db1="Succeeded"), "b": ended("Failed", db2="Failed")}, Gate())
    assert verdict.lifecycle == "Failed" and verdict.failed_targets == ("server1/db2",)
    assert "1 failed target (server1/db2), more than the 0 allowed" in verdict.reason
    assert (verdict.databases_succeeded, verdict.databases_failed) == (1, 1)


def test_a_gate_with_a_failed_target_budget_passes_a_member_that_failed_only_there() -> None:
    executions = {"a": ended("Failed", db1="Succeeded", db2="Failed")}
    assert judge(["a"], executions, Gate(max_failed_targets=1)).lifecycle == "Succeeded"
    assert judge(["a"], executions, Gate(max_failed_share=0.5)).lifecycle == "Succeeded"
    assert judge(["a"], executions, Gate(max_failed_share=0.4)).lifecycle == "Failed"


def test_a_member_that_failed_on_no_target_or_was_skipped_fails_the_gate_whatever_the_budget() -> None:
    assert judge(["a"], {"a": ended("Failed")}, Gate(max_failed_targets=5)).reason == "member a ended Failed"
    skipped = {"a": ended("SucceededWithSkipped", db1="Succeeded", db2="Skipped")}
    assert judge(["a"], skipped, Gate()).lifecycle == "Failed"
    assert judge(["a"], skipped, Gate(pass_on=("Succeeded", "SucceededWithSkipped"))).lifecycle == "Succeeded"


def test_a_member_with_no_run_fails_its_wave_and_a_running_one_keeps_it_in_progress() -> None:
    refused = {"azure_id": None, "lifecycle": None, "error": {"code": "PlanChanged", "message": "version 1 -> 2."}}
    assert judge(["a"], {"a": refused}, Gate()).reason == "member a has no run (PlanChanged: version 1 -> 2)"
    running = {"azure_id": "/runs/x", "lifecycle": "InProgress", "error": None}
    assert judge(["a", "b"], {"a": running, "b": ended("Succeeded")}, Gate()).lifecycle == "InProgress"
    assert judge(["a"], {"a": {}}, Gate()).lifecycle == "NotStarted"


def test_the_rollout_output_halts_at_the_first_failed_wave_and_lists_the_members_not_started() -> None:
    executions = {"canary": ended("Failed", db2="Failed"), "pool": {}, "rest": {}}
    said = rollout([["canary"], ["pool"], ["rest"]], executions, Gate())
    assert said["state"] == "halted"
    assert said["halted"] == {"wave": 1, "reason": said["halted"]["reason"], "failed_targets": ["server1/db2"]}
    assert said["not_started"] == ["pool", "rest"]
    assert [wave["lifecycle"] for wave in said["waves"]] == ["Failed", "NotStarted", "NotStarted"]
    done = {key: ended("Succeeded", db1="Succeeded") for key in executions}
    assert rollout([["canary"], ["pool"], ["rest"]], done, Gate())["state"] == "complete"
    waiting = {**done, "rest": {}}
    assert rollout([["canary"], ["pool"], ["rest"]], waiting, Gate())["state"] == "running"


def test_a_gate_read_back_from_state_is_the_gate_the_program_declared() -> None:
    assert Gate.of({"pass_on": ["Succeeded"], "max_failed_targets": 2.0, "max_failed_share": None}) == Gate.of(
        {"max_failed_targets": 2}
    )
    assert Gate.of(None) == Gate()


def declared(**inputs: Any) -> dict[str, str]:
    members = {"canary": {"job_name": "a"}, "rest": {"job_name": "b"}}
    base = {"resource_group_name": "g", "server_name": "s", "job_agent_name": "agent", "members": members}
    return validate(SetInputs, {**base, "wait_for_completion": True, **inputs}, SUBSCRIPTION)[1]


@pytest.mark.parametrize(
    ("waves", "said"),
    [
        (
            [["canary"], ["rest", "nobody"]],
            "waves must name members only: wave 2 names 'nobody', which is not a member",
        ),
        ([["canary"], ["canary", "rest"]], "waves must name each member once: wave 2 names 'canary' again"),
        ([["canary"]], "waves must place every member in a wave; not in any: rest"),
        ([["canary"], [], ["rest"]], "waves must not hold an empty wave: wave 2 is empty"),
    ],
)
def test_check_refuses_waves_that_do_not_order_every_member_once_naming_the_field(
    waves: list[list[str]], said: str
) -> None:
    assert declared(waves=waves) == {"waves": said}


def test_check_refuses_waves_on_a_set_that_does_not_wait_and_a_gate_that_passes_a_failure() -> None:
    problems = declared(waves=[["canary"], ["rest"]], wait_for_completion=False, gate={"pass_on": ["Failed"]})
    assert problems["waves"] == "waves needs wait_for_completion: true (a wave's gate judges how its runs ended)"
    assert problems["gate"].startswith("gate.pass_on must name one or more of Skipped, Succeeded")
    assert declared(waves=[["canary"], ["rest"]], gate={"max_failed_share": 1.5})["gate"].startswith(
        "gate.max_failed_share"
    )
    assert declared(waves=[["canary"], ["rest"]], gate={"max_failed_targets": 1}) == {}
