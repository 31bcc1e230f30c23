"""Reviewed = run, on both faces over gRPC: a create with ``expected_plan`` starts its run only when the live plan
is the pinned one; otherwise it refuses before any request that changes anything, and names what changed.

The story of a pull request: the plan is reviewed (its pin taken from the core's own read, the one both faces
show), someone edits the job before the merge (a new step makes version 2), and the merge's ``up`` must not run
the edited job; once the new plan is pinned, it runs, and the state records that plan with the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.planning import read_plan
from tests.conftest import new_job
from tests.engine.conftest import AGENT, Declare, configured_plugin
from tests.engine.harness import (
    EXECUTION,
    Engine,
    EngineLog,
    NativePlugin,
    NativeStubs,
    Registration,
    camel_inputs,
    snake_outputs,
    to_struct,
    urn,
)

Up = Callable[..., Engine]


@pytest.fixture(params=["dynamic", "native"])
def face(
    request: pytest.FixtureRequest, emulator: Emulator, declare: Declare, engine_log: EngineLog
) -> Iterator[tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]]]:
    """An engine on one plugin, how it declares a JobExecution, and how its state reads in the core's names."""
    if request.param == "dynamic":
        plugin = configured_plugin(emulator, engine_log.address)
        try:
            yield Engine(plugin), declare, lambda value: value
        finally:
            plugin.kill()
        return
    native = NativePlugin(engine_log.address, emulator)

    def declare_native(**inputs: Any) -> list[Registration]:
        return [Registration(EXECUTION, "run", urn("run"), to_struct(camel_inputs({**AGENT, **inputs})))]

    try:
        yield Engine(NativeStubs(native)), declare_native, snake_outputs  # type: ignore[arg-type]
    finally:
        native.kill()


def add_step(client: ElasticJobsClient, job: Any, name: str, script: str) -> None:
    body = {
        "properties": {
            "targetGroup": f"{job.agent_path}/targetGroups/all-databases",
            "action": {"value": script},
            "executionOptions": {"retryAttempts": 0},
        }
    }
    client.request("PUT", f"{job.path}/steps/{name}", json=body)


def test_an_edited_job_is_refused_before_any_mutating_request_and_the_reviewed_one_runs(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    emulator: Emulator,
    client: ElasticJobsClient,
) -> None:
    engine, declare, to_core = face
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    reviewed = read_plan(client, job)
    assert reviewed.summary() == f"will run {job.job_name} v1: 1 step on 2 databases in 1 server"
    add_step(client, job, "backfill", "UPDATE t SET c = 0; -- emulator:duration=0")  # edited after the review

    since = emulator.requests_log()[-1]["seq"]
    with pytest.raises(grpc.RpcError) as refused:
        engine.up(declare(job_name=job.job_name, expected_plan=reviewed.pin, wait_for_completion=True))
    message = str(refused.value.details())
    assert "its plan is not the one expected_plan pins (step 2 'backfill' added)" in message
    live = read_plan(client, job)
    assert f"pin: {live.pin}" in message
    assert {r["method"] for r in emulator.requests_log(since)} == {"GET"}  # reads only: nothing ran
    assert list(client.list_executions(job)) == [] and engine.state == {}

    engine.up(declare(job_name=job.job_name, expected_plan=live.pin, wait_for_completion=True, poll_interval=0.1))
    (state,) = engine.state.values()
    outputs = to_core(state.output_props)
    assert outputs["lifecycle"] == "Succeeded" and outputs["plan"]["pin"] == live.pin
    assert [step["name"] for step in outputs["plan"]["steps"]] == ["step1", "backfill"]
    assert sorted(outputs["target_outcomes"]["by_database"]) == list(live.databases)
    assert outputs["target_outcomes"]["unplanned"] == []


def test_a_pin_that_cannot_be_read_is_a_check_failure_naming_the_input(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    emulator: Emulator,
    client: ElasticJobsClient,
) -> None:
    engine, declare, _ = face
    since = emulator.requests_log()[-1]["seq"]
    result = engine.up(declare(job_name="nightly-migration", expected_plan="version 8"))
    ((field, reason),) = [failure for failures in result.failures.values() for failure in failures]
    assert field in ("expected_plan", "expectedPlan") and "cannot read 'version'" in reason
    assert emulator.requests_log(since) == [] and engine.state == {}


def test_a_set_preview_shows_the_plan_of_each_job_whose_members_would_run_and_only_those(
    emulator: Emulator, client: ElasticJobsClient, engine_log: EngineLog
) -> None:
    from tests.engine.test_exactly_once import declare_set

    first, second = new_job(client), new_job(client)
    plugin = configured_plugin(emulator, engine_log.address)
    stack = f"set-plans-{first.job_name}"
    try:
        engine = Engine(plugin)
        members = {
            "a": {"job_name": first.job_name},
            "b": {"job_name": first.job_name},
            "c": {"job_name": second.job_name},
        }
        engine.preview(declare_set(stack=stack, members=members))
        (shown,) = [m.message for m in engine_log.messages if m.message.startswith("will run ")]
        lines = shown.splitlines()
        assert lines[0] == "will run 3 members (2 jobs) on 2 databases"
        assert f"members a, b: will run {first.job_name} v1: 1 step on 2 databases in 1 server" in lines
        assert f"members c: will run {second.job_name} v1: 1 step on 2 databases in 1 server" in lines
        engine.up(declare_set(stack=stack, members=members))
        before = len(engine_log.messages)
        changed = {**members, "c": {"job_name": second.job_name, "triggers": {"v": 2}}}
        engine.preview(declare_set(stack=stack, members=changed))
        (again,) = [m.message for m in engine_log.messages[before:] if m.message.startswith("will run ")]
        assert again.splitlines()[0] == "will run 1 member (1 job) on 2 databases"  # only c runs again
    finally:
        plugin.kill()


def test_a_native_preview_whose_waiting_input_is_unknown_still_shows_the_plan(
    native: NativePlugin, client: ElasticJobsClient
) -> None:
    """Found by the engine-values property in CI: an unknown ``waitForCompletion`` (another resource's output) made
    the preview's plan validate it and crash Create; the plan reads only the job's coordinates."""
    from pulumi.runtime.proto import provider_pb2

    from pulumi_azure_elastic_jobs.terms import UNKNOWN
    from tests.engine.harness import AGENT_CAMEL

    job = new_job(client)
    checked = native.check("unknown-wait", {**AGENT_CAMEL, "jobName": job.job_name, "waitForCompletion": UNKNOWN})
    request = provider_pb2.CreateRequest(urn=urn("unknown-wait"), properties=checked.inputs, preview=True)
    plan = native.stub.Create(request).properties.fields["plan"].struct_value.fields
    assert plan["summary"].string_value == f"will run {job.job_name} v1: 1 step on 2 databases in 1 server"


def preview_create(engine: Engine, registrations: list[Registration]) -> None:
    """A preview of new resources as the CLI runs it: Check and, on the native face (whose Configure says it
    supports preview), Create with ``preview``: each face's one call that shows a plan."""
    from pulumi.runtime.proto import provider_pb2

    engine.preview(registrations)
    if isinstance(engine.plugin, NativeStubs):
        for reg in registrations:
            checked = engine.plugin.Check(provider_pb2.CheckRequest(urn=reg.urn, news=reg.inputs))
            engine.plugin.Create(provider_pb2.CreateRequest(urn=reg.urn, properties=checked.inputs, preview=True))


def test_a_preview_warns_when_up_would_refuse_a_pinned_run_and_stays_quiet_when_the_pin_matches(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    emulator: Emulator,
    client: ElasticJobsClient,
    engine_log: EngineLog,
) -> None:
    engine, declare, _ = face
    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    reviewed = read_plan(client, job)
    preview_create(engine, declare(job_name=job.job_name, expected_plan=reviewed.pin))
    assert not [m for m in engine_log.messages if "expected_plan does not match" in m.message]

    add_step(client, job, "backfill", "UPDATE t SET c = 0; -- emulator:duration=0")
    since = emulator.requests_log()[-1]["seq"]
    preview_create(engine, declare(job_name=job.job_name, expected_plan=reviewed.pin))
    (warning,) = [m for m in engine_log.messages if "expected_plan does not match" in m.message]
    assert "(step 2 'backfill' added)" in warning.message and "`pulumi up` will not start this run" in warning.message
    assert f"the live pin is {read_plan(client, job).pin}" in warning.message
    assert {r["method"] for r in emulator.requests_log(since)} == {"GET"} and engine.state == {}


def test_a_set_preview_names_the_members_up_would_refuse(
    emulator: Emulator, client: ElasticJobsClient, engine_log: EngineLog
) -> None:
    from tests.engine.test_exactly_once import declare_set

    job = new_job(client, script="SELECT 1; -- emulator:duration=0")
    reviewed = read_plan(client, job)
    add_step(client, job, "backfill", "UPDATE t SET c = 0; -- emulator:duration=0")
    plugin = configured_plugin(emulator, engine_log.address)
    try:
        members = {
            "stale": {"job_name": job.job_name, "expected_plan": reviewed.pin},
            "current": {"job_name": job.job_name, "expected_plan": read_plan(client, job).pin},
            "loose": {"job_name": job.job_name},
        }
        Engine(plugin).preview(declare_set(stack=f"pins-{job.job_name}", members=members))
    finally:
        plugin.kill()
    (warning,) = [m.message for m in engine_log.messages if "expected_plan does not match" in m.message]
    assert "(step 2 'backfill' added)" in warning and "will not start member stale;" in warning  # current matches


def test_a_native_set_update_preview_shows_the_plan_and_warning_of_each_member_it_would_start(
    native: NativePlugin, client: ElasticJobsClient, emulator: Emulator, engine_log: EngineLog
) -> None:
    """The native face shows a set's plans in Update with ``preview`` too (an added member, a refused member being
    re-pinned), as the dynamic face does in Check; members that ran and keep their identity start nothing."""
    from pulumi.runtime.proto import provider_pb2

    from tests.engine.harness import AGENT_CAMEL, EXECUTION_SET

    ran, edited = new_job(client, script="SELECT 1; -- emulator:duration=0"), new_job(client)
    stale = read_plan(client, edited).pin
    add_step(client, edited, "backfill", "UPDATE t SET c = 0; -- emulator:duration=0")
    members = {"ran": {"jobName": ran.job_name}, "refused": {"jobName": edited.job_name, "expectedPlan": stale}}
    set_id, outputs = native.create("fleet", {**AGENT_CAMEL, "members": members}, type_=EXECUTION_SET)
    assert (
        outputs["executions"]["refused"]["error"]["code"] == "PlanChanged" and "azureId" in outputs["executions"]["ran"]
    )

    def preview_update(news_members: dict[str, Any]) -> list[str]:
        before = len(engine_log.messages)
        checked = native.check("fleet", {**AGENT_CAMEL, "members": news_members}, type_=EXECUTION_SET)
        request = provider_pb2.UpdateRequest(
            id=set_id, urn=urn("fleet", EXECUTION_SET), olds=to_struct(outputs), news=checked.inputs, preview=True
        )
        native.stub.Update(request)
        return [m.message for m in engine_log.messages[before:]]

    since = emulator.requests_log()[-1]["seq"]
    live = read_plan(client, edited).pin
    shown = preview_update({**members, "refused": {"jobName": edited.job_name, "expectedPlan": live}})
    (plans,) = [text for text in shown if text.startswith("will run ")]
    assert plans.splitlines()[0] == "will run 1 member (1 job) on 2 databases" and "members refused:" in plans
    assert not [text for text in shown if "expected_plan does not match" in text]  # re-pinned: it will start
    shown = preview_update({**members, "added": {"jobName": edited.job_name, "expectedPlan": stale}})
    (plans,) = [text for text in shown if text.startswith("will run ")]
    assert plans.splitlines()[0] == "will run 2 members (1 job) on 2 databases"
    (warning,) = [text for text in shown if "expected_plan does not match" in text]
    assert "will not start member added, member refused;" in warning
    assert {r["method"] for r in emulator.requests_log(since)} == {"GET"}  # previews read, never change anything


# --- a pull request that edits the job step: the plan of what this deployment runs ---------------------------------

V1 = "ALTER TABLE dbo.Orders ADD Note nvarchar(200) NULL; -- emulator:duration=0"
V2 = "ALTER TABLE dbo.Orders ADD Note nvarchar(400) NULL; -- emulator:duration=0"


def shown_plan(engine_log: EngineLog, since: int) -> str:
    """The one plan a preview showed since message ``since`` (every face shows it once)."""
    (shown,) = [m.message for m in engine_log.messages[since:] if m.message.startswith("will run ")]
    return shown


def pin_of(shown: str) -> str:
    (line,) = [line for line in shown.splitlines() if line.startswith("pin: ")]
    return line.removeprefix("pin: ")


def test_a_pr_that_edits_the_step_previews_its_new_script_and_the_pin_holds_through_the_merges_new_version(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    emulator: Emulator,
    client: ElasticJobsClient,
    engine_log: EngineLog,
) -> None:
    engine, declare, to_core = face
    job = new_job(client, script=V1)
    before = len(engine_log.messages)
    preview_create(engine, declare(job_name=job.job_name, step_scripts={"step1": V2}))
    shown = shown_plan(engine_log, before)
    assert shown.startswith(f"will run {job.job_name} v1 with this deployment's step 'step1': 1 step on 2 databases")
    assert "ALTER TABLE dbo.Orders ADD Note nvarchar(400) NULL;" in shown and "nvarchar(200)" not in shown
    pin = pin_of(shown)

    add_step(client, job, "step1", V2)  # the merge's `up` updates the job step first: version 2
    since = emulator.requests_log()[-1]["seq"]
    merged = declare(job_name=job.job_name, step_scripts={"step1": V2}, expected_plan=pin, wait_for_completion=True)
    engine.up(merged)
    (state,) = engine.state.values()
    outputs = to_core(state.output_props)
    assert outputs["lifecycle"] == "Succeeded" and outputs["job_version"] == 2 and outputs["plan"]["pin"] == pin
    puts = [r["path"] for r in emulator.requests_log(since) if r["method"] == "PUT"]
    assert len(puts) == 1 and len(list(client.list_executions(job))) == 1  # one run, of the reviewed script


def test_a_change_not_in_the_pr_between_preview_and_merge_is_refused_and_named(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    emulator: Emulator,
    client: ElasticJobsClient,
    engine_log: EngineLog,
) -> None:
    engine, declare, _ = face
    job = new_job(client, script=V1)
    group = f"{job.agent_path}/targetGroups/{job.job_name}"
    fleet = [{"type": "SqlDatabase", "serverName": "server1", "databaseName": f"app-db-{n}"} for n in (1, 2)]
    client.request("PUT", group, json={"properties": {"members": fleet}})
    step = {"targetGroup": group, "action": {"value": V1}, "executionOptions": {"retryAttempts": 0}}
    client.request("PUT", f"{job.path}/steps/step1", json={"properties": step})
    before = len(engine_log.messages)
    preview_create(engine, declare(job_name=job.job_name, step_scripts={"step1": V2}))
    pin = pin_of(shown_plan(engine_log, before))
    client.request("PUT", f"{job.path}/steps/step1", json={"properties": {**step, "action": {"value": V2}}})

    def refused(why: str) -> str:
        since = emulator.requests_log()[-1]["seq"]
        with pytest.raises(grpc.RpcError) as refusal:
            engine.up(declare(job_name=job.job_name, step_scripts={"step1": V2}, expected_plan=pin))
        assert [r for r in emulator.requests_log(since) if r["method"] != "GET"] == [], why
        assert list(client.list_executions(job)) == [] and engine.state == {}, why
        return str(refusal.value.details())

    third = [*fleet, {"type": "SqlDatabase", "serverName": "server1", "databaseName": "app-db-3"}]
    client.request("PUT", group, json={"properties": {"members": third}})  # a database added elsewhere
    assert "its plan is not the one expected_plan pins (+1 database on server1)" in refused("a database added")
    client.request("PUT", group, json={"properties": {"members": fleet}})

    edited = "ALTER TABLE dbo.Orders ADD Note nvarchar(max) NULL;"
    client.request("PUT", f"{job.path}/steps/step1", json={"properties": {**step, "action": {"value": edited}}})
    message = refused("the step edited outside the program")
    assert "its plan does not run the scripts step_scripts gives its steps (step 'step1' runs sha256:" in message


def test_a_prs_preview_shows_each_steps_script_diff_since_the_last_run_and_a_first_run_says_so(
    face: tuple[Engine, Callable[..., list[Registration]], Callable[[Any], Any]],
    client: ElasticJobsClient,
    engine_log: EngineLog,
) -> None:
    engine, declare, _ = face
    job = new_job(client, script=V1)
    add_step(client, job, "cleanup", "DELETE FROM dbo.Scratch; -- emulator:duration=0")  # v2: the run's version
    released = {"job_name": job.job_name, "wait_for_completion": True, "poll_interval": 0.1}
    before = len(engine_log.messages)
    preview_create(engine, declare(**released, triggers={"script": "v1"}))
    assert "script changes: the first run of this resource, no earlier script to compare" in shown_plan(
        engine_log, before
    )
    engine.up(declare(**released, triggers={"script": "v1"}))

    client.request("DELETE", f"{job.path}/steps/cleanup")  # deployed since the last run, without a run: v3, v4
    add_step(client, job, "backfill", "UPDATE dbo.Orders SET Note = '';\nGO")
    pr = declare(**released, triggers={"script": "v2"}, step_scripts={"step1": V2})
    before = len(engine_log.messages)
    preview_create(engine, pr)
    lines = shown_plan(engine_log, before).splitlines()
    changes = lines[
        lines.index(
            f"script changes since the last run ({job.job_name} v2): 1 step changed, 1 step new, 1 step removed"
        ) :
    ]
    assert changes[1:] == [
        "step 1 'step1': changed",
        f"--- step1 ({job.job_name} v2, the last run)",
        "+++ step1 (this deployment)",
        "@@ -1 +1 @@",
        f"-{V1}",
        f"+{V2}",
        "step 2 'backfill': new",
        "--- /dev/null",
        "+++ backfill (this deployment)",
        "@@ -0,0 +1,2 @@",
        "+UPDATE dbo.Orders SET Note = '';",
        "+GO",
        "step 'cleanup': removed",
    ]


def test_the_dynamic_face_shows_a_replacements_plan_once_though_the_engine_checks_it_twice(
    emulator: Emulator, client: ElasticJobsClient, engine_log: EngineLog, declare: Declare
) -> None:
    """The engine checks a replaced resource with its old inputs, then again with none for the replacement: the
    plan (with its comparison against the last run) is shown at the first, and not again as a first run's."""
    from pulumi.runtime.proto import provider_pb2

    job = new_job(client, script=V1)
    plugin = configured_plugin(emulator, engine_log.address)
    try:
        engine = Engine(plugin)
        engine.up(
            declare(job_name=job.job_name, triggers={"script": "v1"}, wait_for_completion=True, poll_interval=0.1)
        )
        (changed,) = declare(job_name=job.job_name, triggers={"script": "v2"})
        before = len(engine_log.messages)
        for _ in range(2):  # two previews, each the engine's two Checks of the replacement
            olds = engine.state[changed.urn].inputs
            plugin.Check(provider_pb2.CheckRequest(urn=changed.urn, olds=olds, news=changed.inputs))
            plugin.Check(provider_pb2.CheckRequest(urn=changed.urn, news=changed.inputs))
    finally:
        plugin.kill()
    shown = [m.message for m in engine_log.messages[before:] if m.message.startswith("will run ")]
    assert len(shown) == 2 and all(f"since the last run ({job.job_name} v1): none" in text for text in shown)


@pytest.mark.parametrize(
    ("runtime", "pin", "scripts"),
    [("yaml", "expectedPlan", "stepScripts"), ("python", "expected_plan", "step_scripts")],
)
def test_the_native_plugin_names_the_properties_as_the_programs_language_spells_them(
    runtime: str,
    pin: str,
    scripts: str,
    emulator: Emulator,
    client: ElasticJobsClient,
    engine_log: EngineLog,
    tmp_path: Any,
) -> None:
    """The engine starts the plugin in the program's folder: a YAML (TypeScript, Go) program reads `expectedPlan`,
    a Python SDK program `expected_plan`, in the preview's warning and in the refusal alike."""
    from pulumi.runtime.proto import provider_pb2

    from tests.engine.harness import AGENT_CAMEL

    (tmp_path / "Pulumi.yaml").write_text(f"name: program\nruntime: {runtime}\n")
    job = new_job(client, script=V1)
    stale = read_plan(client, job).pin
    add_step(client, job, "backfill", V2)
    native = NativePlugin(engine_log.address, emulator, cwd=tmp_path)
    try:
        inputs = {**AGENT_CAMEL, "jobName": job.job_name, "expectedPlan": stale, "stepScripts": {"step1": V1}}
        checked = native.check("spelled", inputs)
        native.stub.Create(provider_pb2.CreateRequest(urn=urn("spelled"), properties=checked.inputs, preview=True))
        (warning,) = [m.message for m in engine_log.messages if "does not match the live plan" in m.message]
        assert warning.startswith(f"{pin} does not match the live plan of job {job.job_name}"), warning
        with pytest.raises(grpc.RpcError) as refused:
            native.stub.Create(provider_pb2.CreateRequest(urn=urn("spelled"), properties=checked.inputs))
        assert f"its plan is not the one {pin} pins" in str(refused.value.details())
        add_step(client, job, "step1", V2)
        with pytest.raises(grpc.RpcError) as refused:
            native.stub.Create(provider_pb2.CreateRequest(urn=urn("spelled"), properties=checked.inputs))
        assert f"does not run the scripts {scripts} gives its steps" in str(refused.value.details())
    finally:
        native.kill()


def test_a_secret_script_is_planned_by_its_digest_and_its_text_is_never_shown(
    native: NativePlugin, client: ElasticJobsClient, engine_log: EngineLog
) -> None:
    from pulumi.runtime.proto import provider_pb2
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    from tests.engine.harness import AGENT_CAMEL

    job = new_job(client, script=V1)
    secret = "ALTER LOGIN app WITH PASSWORD = 'hunter2';"
    scripts = {_special_sig_key: _special_secret_sig, "value": {"step1": secret}}
    checked = native.check("secret-script", {**AGENT_CAMEL, "jobName": job.job_name, "stepScripts": scripts})
    request = provider_pb2.CreateRequest(urn=urn("secret-script"), properties=checked.inputs, preview=True)
    native.stub.Create(request)
    (shown,) = [m.message for m in engine_log.messages if m.message.startswith("will run ")]
    assert "hunter2" not in str(engine_log.messages) and "(the script as its digest" in shown
    assert "with this deployment's step 'step1'" in shown
