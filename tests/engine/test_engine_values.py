"""Every value the engine sends, on both faces: unknowns and secrets at any depth, nulls, empty maps, numbers
as YAML and JSON hand them over (issue 25, part 1).

Real programs wire resources together, so an input may be another resource's output: unknown during a preview
(the engine's wire form is the string ``04da6b54-…``), secret, or a map holding either somewhere inside. A
Hypothesis strategy builds property maps over that space and drives the real plugins over gRPC (the native
console script, and the SDK's dynamic-provider plugin), asserting what a user relies on:

* no hook ever crashes (Check, Diff, and the native Create/Update in preview);
* an unknown identity input never reads as "nothing changes": Diff says replace (or that it cannot tell);
* a preview sends no request at all;
* a secret that went in stays secret in what comes back.

Failures it found are kept below as named regression tests.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime.proto import provider_pb2

from elastic_jobs_emulator import Emulator
from pulumi_azure_elastic_jobs.auth import StaticToken
from pulumi_azure_elastic_jobs.catalog import camel
from pulumi_azure_elastic_jobs.client import ElasticJobsClient
from pulumi_azure_elastic_jobs.terms import IDENTITY_FIELDS, SET_IDENTITY_FIELDS, UNKNOWN
from tests.conftest import HELD, new_job
from tests.engine.conftest import AGENT, configured_plugin
from tests.engine.harness import (
    EXECUTION,
    EXECUTION_SET,
    EngineLog,
    NativePlugin,
    run_program,
    to_struct,
    urn,
)

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass(frozen=True)
class Secret:
    value: Any


# --- the engine's wire form ----------------------------------------------------------------------------------------


def wire(value: Any) -> struct_pb2.Value:
    """A plain value (with :class:`Secret` wrappers and the UNKNOWN string anywhere) as the engine sends it."""
    if isinstance(value, Secret):
        return struct_pb2.Value(
            struct_value=struct_pb2.Struct(
                fields={SIG_KEY: struct_pb2.Value(string_value=SECRET_SIG), "value": wire(value.value)}
            )
        )
    if value is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=float(value))
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    if isinstance(value, dict):
        return struct_pb2.Value(struct_value=struct_pb2.Struct(fields={k: wire(v) for k, v in value.items()}))
    return struct_pb2.Value(list_value=struct_pb2.ListValue(values=[wire(item) for item in value]))


def wire_map(props: dict[str, Any]) -> struct_pb2.Struct:
    return struct_pb2.Struct(fields={key: wire(value) for key, value in props.items()})


def holds(value: Any, wanted: type | str) -> bool:
    """Whether ``value`` holds a Secret (``wanted=Secret``) or the UNKNOWN string anywhere inside."""
    if wanted is Secret and isinstance(value, Secret):
        return True
    if isinstance(value, Secret):
        return holds(value.value, wanted)
    if isinstance(value, dict):
        return any(holds(item, wanted) for item in value.values())
    if isinstance(value, list):
        return any(holds(item, wanted) for item in value)
    return wanted == UNKNOWN and value == UNKNOWN


def secret_on_wire(value: struct_pb2.Value) -> bool:
    if value.HasField("struct_value"):
        fields = value.struct_value.fields
        if SIG_KEY in fields and fields[SIG_KEY].string_value == SECRET_SIG:
            return True
        return any(secret_on_wire(item) for item in fields.values())
    if value.HasField("list_value"):
        return any(secret_on_wire(item) for item in value.list_value.values)
    return False


# --- the value space -----------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10_000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
    st.just(UNKNOWN),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3),
        st.builds(Secret, inner),
    ),
    max_leaves=8,
)


def shaped(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value as another resource may hand it over: mostly valid, else unknown, secret (of a valid value
    or of an unknown), and now and then anything at all (which Check must refuse by name, never crash on)."""
    return st.one_of(
        *[valid] * 6,
        st.just(UNKNOWN),
        st.builds(Secret, valid),
        st.builds(Secret, st.just(UNKNOWN)),
        anything,
    )


AGENT_FIELDS = {
    "resource_group_name": shaped(st.just("group1")),
    "server_name": shaped(st.just("server1")),
    "job_agent_name": shaped(st.just("agent1")),
}
WAITING = {
    "wait_for_completion": shaped(st.booleans()),
    "timeout": shaped(st.one_of(st.integers(1, 7200), st.floats(1, 7200))),  # YAML ints, JSON floats
    "poll_interval": shaped(st.integers(1, 60)),
    "fail_on": shaped(st.lists(st.sampled_from(["Failed", "TimedOut", "Canceled"]), max_size=3)),
    "cancel_on_destroy": shaped(st.booleans()),
    "subscription_id": st.one_of(st.just(UNKNOWN), st.builds(Secret, st.just(UNKNOWN)), anything),
}
triggers = st.dictionaries(st.sampled_from(["release", "after", "pw"]), anything, max_size=3)


def execution_inputs(job_name: str) -> st.SearchStrategy[dict[str, Any]]:
    """JobExecution inputs in snake_case (renamed to camelCase for the native face)."""
    return st.fixed_dictionaries(
        {**AGENT_FIELDS, "job_name": shaped(st.just(job_name))},
        optional={
            **WAITING,
            "triggers": shaped(triggers),
            "job_execution_id": st.one_of(st.none(), st.just(UNKNOWN), st.builds(lambda: str(uuid.uuid4()))),
        },
    )


def set_inputs(job_name: str) -> st.SearchStrategy[dict[str, Any]]:
    member = st.fixed_dictionaries({"job_name": shaped(st.just(job_name))}, optional={"triggers": shaped(triggers)})
    members = shaped(st.dictionaries(st.sampled_from(["eu", "us", "ap"]), shaped(member), min_size=1, max_size=3))
    return st.fixed_dictionaries({**AGENT_FIELDS, "members": members}, optional=WAITING)


def camelized(value: Any, key: str | None = None) -> Any:
    """snake_case names to the schema's camelCase, leaving user-keyed maps' keys alone."""
    if isinstance(value, Secret):
        return Secret(camelized(value.value, key))
    if isinstance(value, dict):
        if key == "triggers":
            return value
        if key == "members":
            return {name: camelized(item) for name, item in value.items()}
        return {camel(name): camelized(item, name) for name, item in value.items()}
    return value


# --- the plugins, each with one real resource recorded ---------------------------------------------------------------


def plain(value: Any) -> Any:
    """Secrets unwrapped: the engine strips them for a provider that does not accept secrets (the dynamic one)."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


@dataclass
class Face:
    """One plugin as the engine speaks to it, with a real resource of each kind recorded (for Diff's olds)."""

    name: str
    stub: Any
    urns: dict[str, str]  # resource kind -> URN
    recorded: dict[str, tuple[str, struct_pb2.Struct]]  # resource kind -> (id, outputs)
    provider: dict[str, struct_pb2.Value]  # resource kind -> the dynamic face's __provider

    def to_wire(self, props: dict[str, Any], kind: str) -> struct_pb2.Struct:
        if self.name == "native":
            return wire_map(camelized(props))
        struct = wire_map(plain(props))
        struct.fields["__provider"].CopyFrom(self.provider[kind])
        return struct

    def check(self, kind: str, news: struct_pb2.Struct) -> Any:
        return self.stub.Check(provider_pb2.CheckRequest(urn=self.urns[kind], news=news))

    def diff(self, kind: str, news: struct_pb2.Struct) -> Any:
        resource_id, outputs = self.recorded[kind]
        return self.stub.Diff(provider_pb2.DiffRequest(id=resource_id, urn=self.urns[kind], olds=outputs, news=news))

    def record(self, kind: str, inputs: struct_pb2.Struct) -> None:
        checked = self.check(kind, inputs)
        created = self.stub.Create(provider_pb2.CreateRequest(urn=self.urns[kind], properties=checked.inputs))
        self.recorded[kind] = (created.id, created.properties)

    def forget(self) -> None:
        for kind, (resource_id, outputs) in self.recorded.items():
            self.stub.Delete(provider_pb2.DeleteRequest(id=resource_id, urn=self.urns[kind], properties=outputs))


@pytest.fixture(scope="module")
def job_name(emulator: Emulator) -> str:
    with ElasticJobsClient(emulator.url, StaticToken(emulator.token)) as arm:
        return new_job(arm, script=HELD).job_name


@pytest.fixture(scope="module")
def faces(emulator: Emulator, job_name: str) -> Iterator[dict[str, Face]]:
    from pulumi_azure_elastic_jobs import JobExecution, JobExecutionSet

    log = EngineLog()
    native = NativePlugin(log.address, emulator)
    dynamic = configured_plugin(emulator)
    agent = {"resourceGroupName": "group1", "serverName": "server1", "jobAgentName": "agent1"}
    native_face = Face("native", native.stub, {kind: urn(kind, kind) for kind in KINDS}, {}, {})
    native_face.record(EXECUTION, to_struct({**agent, "jobName": job_name}))
    native_face.record(EXECUTION_SET, to_struct({**agent, "members": {"eu": {"jobName": job_name}}}))

    def program() -> None:
        JobExecution("run", **AGENT, job_name=job_name)
        JobExecutionSet("fleet", **AGENT, members={"eu": {"job_name": job_name}})

    registrations = dict(zip(KINDS, run_program(program, project="values", stack="dev"), strict=True))
    dynamic_face = Face(
        "dynamic",
        dynamic.stub,
        {kind: reg.urn for kind, reg in registrations.items()},
        {},
        {kind: reg.inputs.fields["__provider"] for kind, reg in registrations.items()},
    )
    for kind, reg in registrations.items():
        dynamic_face.record(kind, reg.inputs)
    try:
        yield {"native": native_face, "dynamic": dynamic_face}
    finally:
        native_face.forget()
        dynamic_face.forget()
        native.kill()
        dynamic.kill()
        log.stop()


KINDS = (EXECUTION, EXECUTION_SET)
IDENTITY = {EXECUTION: IDENTITY_FIELDS, EXECUTION_SET: (*SET_IDENTITY_FIELDS, "members")}


def exercise(face: Face, kind: str, props: dict[str, Any], emulator: Emulator, seen: Counter[str]) -> None:
    """Check, Diff against the recorded resource, and (native) Create and Update in preview: nothing crashes, an
    unknown identity is a change, secrets stay secret, and nothing but the plan's reads reaches the service.
    ``seen`` counts which of these were reached, so a strategy that stopped reaching them fails the test instead of
    passing vacuously."""
    before = len(emulator.requests_log())
    checked = face.check(kind, face.to_wire(props, kind))  # a crash raises grpc.RpcError here
    seen["checked"] += 1
    if not checked.failures:
        if face.name == "native":
            for name, value in props.items():
                if holds(value, Secret) and camel(name) in checked.inputs.fields:
                    assert secret_on_wire(checked.inputs.fields[camel(name)]), f"{name} lost its secrecy"
                    seen["secret kept"] += 1
        diff = face.diff(kind, checked.inputs)
        seen["diffed"] += 1
        if any(holds(props.get(name), UNKNOWN) for name in IDENTITY[kind]):
            assert diff.changes != provider_pb2.DiffResponse.DIFF_NONE, "an unknown identity must be a change"
            seen["unknown identity"] += 1
        if face.name == "native":
            seen["previewed"] += 1
            resource_id, outputs = face.recorded[kind]
            face.stub.Create(provider_pb2.CreateRequest(urn=face.urns[kind], properties=checked.inputs, preview=True))
            face.stub.Update(
                provider_pb2.UpdateRequest(
                    id=resource_id, urn=face.urns[kind], olds=outputs, news=checked.inputs, preview=True
                )
            )
    sent = emulator.requests_log()[before:]
    assert all(r["method"] == "GET" for r in sent), f"a preview sends only reads (its plan's): {sent}"


def reached(seen: Counter[str], face_name: str) -> None:
    """Every branch the property guards was taken, several times (numbers from the CI profile's 100 examples)."""
    wanted = ["checked", "diffed", "unknown identity"] + (["secret kept", "previewed"] if face_name == "native" else [])
    assert all(seen[name] >= 5 for name in wanted), dict(seen)


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_every_execution_input_the_engine_can_send_is_taken_without_a_crash_or_a_request(
    faces: dict[str, Face], emulator: Emulator, job_name: str, face_name: str
) -> None:
    seen: Counter[str] = Counter()

    @given(props=execution_inputs(job_name))
    def property_(props: dict[str, Any]) -> None:
        exercise(faces[face_name], EXECUTION, props, emulator, seen)

    property_()
    reached(seen, face_name)


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_every_set_input_the_engine_can_send_is_taken_without_a_crash_or_a_request(
    faces: dict[str, Face], emulator: Emulator, job_name: str, face_name: str
) -> None:
    seen: Counter[str] = Counter()

    @given(props=set_inputs(job_name))
    def property_(props: dict[str, Any]) -> None:
        exercise(faces[face_name], EXECUTION_SET, props, emulator, seen)

    property_()
    reached(seen, face_name)


# --- what the property found, kept by name ---------------------------------------------------------------------------


def test_native_check_of_a_trigger_carrying_another_runs_unknown_id_answers_it_unknown(
    faces: dict[str, Face], job_name: str
) -> None:
    """The README's chaining pattern at preview: the SDK could not marshal a computed value inside a map."""
    face = faces["native"]
    props = {**AGENT, "job_name": job_name, "triggers": {"after": UNKNOWN}}
    checked = face.check(EXECUTION, face.to_wire(props, EXECUTION))
    assert not checked.failures
    assert checked.inputs.fields["triggers"].struct_value.fields["after"].string_value == UNKNOWN


def test_native_diff_of_a_set_whose_members_are_unknown_says_the_members_change(faces: dict[str, Face]) -> None:
    face = faces["native"]
    props = {**AGENT, "members": UNKNOWN, "timeout": UNKNOWN}
    checked = face.check(EXECUTION_SET, face.to_wire(props, EXECUTION_SET))
    diff = face.diff(EXECUTION_SET, checked.inputs)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and "members" in diff.diffs


@pytest.mark.parametrize("face_name", ["native", "dynamic"])
def test_a_job_name_from_another_resources_unknown_output_passes_check_and_diffs_as_a_replace(
    faces: dict[str, Face], face_name: str
) -> None:
    """The dynamic face received unknowns as ``pulumi.output.Unknown`` objects and refused them as not strings."""
    face = faces[face_name]
    props = {**AGENT, "job_name": UNKNOWN, "resource_group_name": Secret(UNKNOWN)}
    checked = face.check(EXECUTION, face.to_wire(props, EXECUTION))
    assert not checked.failures, [(f.property, f.reason) for f in checked.failures]
    diff = face.diff(EXECUTION, checked.inputs)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    wanted = ["job_name", "resource_group_name"] if face_name == "dynamic" else ["jobName", "resourceGroupName"]
    assert set(wanted) <= set(diff.replaces)


def test_a_secret_inside_triggers_stays_secret_in_the_native_outputs_and_out_of_the_logs(
    native: NativePlugin, emulator: Emulator, job_name: str
) -> None:
    """In an `up`, not a preview: the run starts, and the trigger that carries a secret is secret in what the
    engine records; its value reaches neither the request log nor the plugin's error stream."""
    planted = f"pw-{uuid.uuid4().hex[:10]}"
    props = {**AGENT, "job_name": job_name, "triggers": {"release": "r1", "pw": Secret(planted)}}
    checked = native.stub.Check(provider_pb2.CheckRequest(urn=urn("secretive"), news=wire_map(camelized(props))))
    assert secret_on_wire(checked.inputs.fields["triggers"])
    created = native.stub.Create(provider_pb2.CreateRequest(urn=urn("secretive"), properties=checked.inputs))
    assert secret_on_wire(created.properties.fields["triggers"])
    assert planted not in str(emulator.requests_log())
    native.stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=urn("secretive"), properties=created.properties))
