"""The policy pack's rules on the inputs a policy is handed (tests/cli/test_policy_pack_cli.py runs the pack through
the CLI): both faces' spellings, a set's members, and values a preview does not know yet."""

from __future__ import annotations

from typing import Any

from pulumi_azure_elastic_jobs.policy import rules
from pulumi_azure_elastic_jobs.terms import UNKNOWN

NATIVE = "azure-elastic-jobs:index:JobExecution"
DYNAMIC = "pulumi-python:dynamic/azure-elastic-jobs:JobExecution"
SET = "azure-elastic-jobs:index:JobExecutionSet"


def run(resource_type: str = NATIVE, **props: Any) -> rules.Run:
    (found,) = rules.runs_of(resource_type, "migration", props)
    return found


def test_a_run_without_a_pin_is_named_with_the_field_as_its_language_spells_it() -> None:
    assert "`expectedPlan` is required" in (rules.unpinned(run()) or "")
    assert "`expected_plan` is required" in (rules.unpinned(run(DYNAMIC)) or "")
    assert rules.unpinned(run(expectedPlan="v1")) is None
    assert rules.unpinned(run(DYNAMIC, expected_plan="v1")) is None
    assert rules.unpinned(run(expectedPlan=UNKNOWN)) is None  # another resource's output: judged in up's preview


def test_each_member_of_a_set_is_a_run_of_its_own() -> None:
    members = [{"key": "a", "jobName": "j", "expectedPlan": "v1 s=3"}, {"key": "b", "jobName": "j"}]
    found = rules.runs_of(SET, "fleet", {"members": members, "waitForCompletion": True, "timeout": 60})
    expected = [("fleet member a", "v1 s=3", 60), ("fleet member b", None, 60)]
    assert [(r.name, r.pin, r.timeout) for r in found] == expected
    assert [rules.unpinned(r) is None for r in found] == [True, False]


def test_databases_are_counted_from_the_pin_and_an_approval_raises_the_limit() -> None:
    pinned = run(expectedPlan="v2 server1=12 server2=2 sha256:0011223344556677")
    assert "touches 14 databases, more than the 10" in (rules.too_many_databases(pinned, 10, None) or "")
    assert '"approvedDatabases": {"migration": 14}' in (rules.too_many_databases(pinned, 10, None) or "")
    assert rules.too_many_databases(pinned, 10, 14) is None
    assert rules.too_many_databases(pinned, 14, None) is None
    assert "names no databases per server" in (rules.too_many_databases(run(expectedPlan="v2"), 10, None) or "")
    assert rules.too_many_databases(run(), 10, None) is None  # unpinned: the pinned-runs policy's to stop


def test_a_waited_run_needs_a_timeout_within_the_stacks_limit() -> None:
    assert "has no `timeout`" in (rules.waits_without_timeout(run(waitForCompletion=True), 600) or "")
    assert "waits up to 3600 s" in (rules.waits_without_timeout(run(waitForCompletion=True, timeout=3600), 600) or "")
    assert rules.waits_without_timeout(run(waitForCompletion=True, timeout=600), 600) is None
    assert rules.waits_without_timeout(run(waitForCompletion=False, timeout=9999), 600) is None
    assert rules.waits_without_timeout(run(DYNAMIC, wait_for_completion=True, timeout=601.0), 600) is not None


def test_a_stack_is_named_by_its_name_its_project_path_or_a_star() -> None:
    assert rules.stack_of("urn:pulumi:prod::infra::azure-elastic-jobs:index:JobExecution::m") == "prod"
    for names in (["prod"], ["infra/prod"], ["acme/infra/prod"], ["*"]):
        assert rules.stack_is_named("prod", "infra", names)
    assert not rules.stack_is_named("prod", "infra", ["dev", "other/prod", "acme/other/prod"])


def test_other_resources_are_never_judged() -> None:
    assert rules.runs_of("azure-native:sql:Job", "job", {"expectedPlan": None}) == []
    assert not rules.is_ours("azure-native:sql:Job")
