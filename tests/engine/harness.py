"""A small stand-in for the Pulumi engine: real program registrations, real dynamic-provider plugin, over gRPC.

How it works, in the engine's own order:

1. ``run_program`` runs a Pulumi program under ``pulumi.runtime.set_mocks`` with a monitor that records each
   ``RegisterResource``/``ReadResource`` request as the language SDK sent it: the inputs Struct with the real
   serialized ``__provider``, ``deleteBeforeReplace``, ``importId``.
2. ``Plugin`` starts ``python -m pulumi.dynamic`` (the SDK's provider plugin, as the engine does), reads its
   port, and calls ``Configure``/``Check``/``Diff``/``Create``/``Read``/``Update``/``Delete`` over gRPC.
3. ``Engine`` plays a program's registrations against the plugin for ``preview``, ``up`` (create, same,
   update, replace with delete-before-replace, delete of removed resources), ``refresh``, ``import``, ``get``
   and ``destroy``, keeping inputs and outputs per URN between steps as the engine's state would.

Test tooling only: small on purpose, not shipped in the package.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from elastic_jobs_emulator import DEFAULT_SUBSCRIPTION
from pulumi_azure_elastic_jobs.catalog import camel, snake

Props = dict[str, Any]


def to_struct(props: Props) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def from_struct(struct: struct_pb2.Struct, keep_unknowns: bool = False) -> Props:
    return dict(rpc.deserialize_properties(struct, keep_unknowns))


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    inputs: struct_pb2.Struct
    delete_before_replace: bool = False
    import_id: str = ""
    read_id: str = ""

    @property
    def props(self) -> Props:
        return from_struct(self.inputs, keep_unknowns=True)


class _Recorder(Mocks):
    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-mock-id", dict(args.inputs)

    def call(self, args: Any) -> tuple[dict[str, Any], None]:
        return {}, None


class _EngineAnswers(_Recorder):
    """Answers each registration with what the engine step produced, so programs see real outputs."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return self.answers.pop(args.name, None) or super().new_resource(args)


class _RecordingMonitor(MockMonitor):
    def __init__(
        self,
        project: str,
        stack: str,
        mocks: _EngineAnswers | None = None,
        on_register: Callable[[Registration], tuple[str, Props] | None] | None = None,
    ) -> None:
        self.answering = mocks or _EngineAnswers()
        super().__init__(self.answering)
        self.project, self.stack, self.registrations = project, stack, []  # type: list[Registration]
        self.on_register = on_register

    def _urn(self, type_: str, name: str, parent: str = "") -> str:
        """The URN the engine gives: a parent other than the stack prefixes its type chain (``A$B``)."""
        parent_type = parent.split("::")[2] if parent.count("::") >= 3 else ""
        if parent_type and parent_type != "pulumi:pulumi:Stack":
            type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        if request.type.startswith("pulumi-python:dynamic"):
            registration = Registration(
                request.type,
                request.name,
                self._urn(request.type, request.name, request.parent),
                request.object,
                request.deleteBeforeReplace,
                request.importId,
            )
            self.registrations.append(registration)
            answer = self.on_register(registration) if self.on_register else None
            if answer is not None:
                self.answering.answers[request.name] = answer
        return super().RegisterResource(request)

    def ReadResource(self, request: Any) -> Any:
        if request.type.startswith("pulumi-python:dynamic"):
            self.registrations.append(
                Registration(
                    request.type,
                    request.name,
                    self._urn(request.type, request.name, request.parent),
                    request.properties,
                    read_id=request.id,
                )
            )
        return super().ReadResource(request)


def run_program(
    program: Callable[[], Any],
    project: str = "test",
    stack: str = "dev",
    preview: bool = False,
    on_register: Callable[[Registration], tuple[str, Props] | None] | None = None,
) -> list[Registration]:
    """Run ``program`` as the language host would and return what it registered, in order.

    With ``on_register``, each registration is answered with the (id, outputs) it returns, as the engine
    answers a program with the outputs of each step before the program goes on.
    """
    monitor = _RecordingMonitor(project, stack, on_register=on_register)
    pulumi.runtime.set_mocks(monitor.answering, project=project, stack=stack, preview=preview, monitor=monitor)

    @pulumi.runtime.test
    def run() -> Any:
        program()
        return None

    run()
    return monitor.registrations


class EngineLog(engine_pb2_grpc.EngineServicer):
    """The engine's ``Log`` service, recording what plugins send (status lines and diagnostics) in order."""

    def __init__(self) -> None:
        self.messages: list[engine_pb2.LogRequest] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        engine_pb2_grpc.add_EngineServicer_to_server(self, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def Log(self, request: Any, context: Any) -> Any:
        self.messages.append(request)
        return empty_pb2.Empty()

    def stop(self) -> None:
        self.server.stop(0)


class Plugin:
    """The SDK's dynamic-provider plugin in a subprocess, spoken to over gRPC like the engine does.

    Like the engine, it may pass an engine address as the plugin's last argument. ``command``: the plugin's
    command line before that address, when not the SDK's own (the profiler runs the same plugin under cProfile)."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        engine_address: str | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "pulumi.dynamic"]), *([engine_address] if engine_address else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline().decode().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.calls: list[str] = []

    def configure(self, config: dict[str, str]) -> None:
        self.stub.Configure(provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True))

    def __getattr__(self, method: str) -> Callable[..., Any]:
        rpc_method = getattr(self.stub, method)

        def call(request: Any, timeout: float = 300) -> Any:
            self.calls.append(method)
            return rpc_method(request, timeout=timeout)

        return call

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.channel.close()

    def stderr(self) -> str:
        self.kill()
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")


class Interrupted(Exception):
    """A deployment stopped right after a create's work was done, before its result was saved."""


@dataclass
class ResourceState:
    id: str
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct
    init_errors: list[str] = field(default_factory=list)
    """Set by a create that failed after making the resource: the next deployment updates it, changed or not."""

    @property
    def output_props(self) -> Props:
        return from_struct(self.outputs)


def init_failure(error: grpc.RpcError) -> Any:
    """The ``ErrorResourceInitFailed`` detail of a failed call (the resource was made), or None, read as the
    engine reads it: from the status details in the trailing metadata, whatever the status code."""
    from pulumi.runtime.proto import status_pb2

    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                failed = provider_pb2.ErrorResourceInitFailed()
                if detail.Unpack(failed):
                    return failed
    return None


@dataclass
class StepResult:
    operations: dict[str, str] = field(default_factory=dict)  # urn -> create | same | update | replace | delete
    failures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # urn -> Check failures
    diffs: dict[str, Any] = field(default_factory=dict)  # urn -> DiffResponse


class Engine:
    """Plays program registrations against the plugin, keeping state per URN between deployments."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.state: dict[str, ResourceState] = {}
        self.interrupt: set[str] = set()
        self.create_first: set[str] = set()
        """Names or URNs whose replacement creates before it deletes (a program's ``deleteBeforeReplace: false``)."""

    def _check(self, reg: Registration, result: StepResult) -> struct_pb2.Struct | None:
        olds = self.state[reg.urn].inputs if reg.urn in self.state else struct_pb2.Struct()
        checked = self.plugin.Check(provider_pb2.CheckRequest(urn=reg.urn, olds=olds, news=reg.inputs))
        if checked.failures:
            result.failures[reg.urn] = [(f.property, f.reason) for f in checked.failures]
            return None
        return checked.inputs

    def _diff(self, reg: Registration, news: struct_pb2.Struct) -> Any:
        old = self.state[reg.urn]
        return self.plugin.Diff(
            provider_pb2.DiffRequest(id=old.id, urn=reg.urn, olds=old.outputs, news=news, old_inputs=old.inputs)
        )

    def preview(self, registrations: list[Registration]) -> StepResult:
        """Check and Diff only, as ``pulumi preview`` does: nothing is created, updated or deleted."""
        return self._deploy(registrations, apply=False)

    def up(self, registrations: list[Registration], replace: tuple[str, ...] = ()) -> StepResult:
        return self._deploy(registrations, apply=True, replace=replace)

    def deploy(
        self,
        program: Callable[[], Any],
        project: str = "test",
        stack: str = "dev",
        apply: bool = True,
        replace: tuple[str, ...] = (),
    ) -> StepResult:
        """Run ``program`` with each registration played as it arrives, answering with the real outputs."""
        result = StepResult()

        def step(reg: Registration) -> tuple[str, Props] | None:
            self._step(reg, result, apply, replace)
            state = self.state.get(reg.urn)
            return (state.id, state.output_props) if state and apply else None

        registrations = run_program(program, project=project, stack=stack, preview=not apply, on_register=step)
        self._delete_undeclared(registrations, result, apply)
        return result

    def _deploy(self, registrations: list[Registration], apply: bool, replace: tuple[str, ...] = ()) -> StepResult:
        result = StepResult()
        for reg in registrations:
            self._step(reg, result, apply, replace)
        self._delete_undeclared(registrations, result, apply)
        return result

    def _delete_undeclared(self, registrations: list[Registration], result: StepResult, apply: bool) -> None:
        declared = {reg.urn for reg in registrations}
        for urn in [urn for urn in self.state if urn not in declared]:
            result.operations[urn] = "delete"
            if apply:
                self._delete(urn)

    def _step(self, reg: Registration, result: StepResult, apply: bool, replace: tuple[str, ...]) -> None:
        news = self._check(reg, result)
        if news is None:
            return
        if reg.urn not in self.state:
            result.operations[reg.urn] = "create"
            if apply:
                self._create(reg, news)
            return
        diff = self._diff(reg, news)
        result.diffs[reg.urn] = diff
        if diff.replaces or reg.name in replace or reg.urn in replace:
            result.operations[reg.urn] = "replace"
            if apply and (reg.name in self.create_first or reg.urn in self.create_first):
                old = self.state[reg.urn]
                self._create(reg, news)
                self._delete(reg.urn, old)
            elif apply:
                self._delete(reg.urn)
                self._create(reg, news)
        elif diff.changes == provider_pb2.DiffResponse.DIFF_SOME or self.state[reg.urn].init_errors:
            result.operations[reg.urn] = "update"
            if apply:
                self._update(reg, news)
        else:
            result.operations[reg.urn] = "same"
            if apply:
                self.state[reg.urn].inputs = news

    def _update(self, reg: Registration, news: struct_pb2.Struct) -> None:
        """Update; an update that failed after acting (a set whose rollout halted) is recorded as the engine records
        a partial failure: the old inputs, the new outputs and the init errors (the next deployment updates it)."""
        old = self.state[reg.urn]
        request = provider_pb2.UpdateRequest(id=old.id, urn=reg.urn, olds=old.outputs, news=news, old_inputs=old.inputs)
        try:
            updated = self.plugin.Update(request)
        except grpc.RpcError as error:
            failed = init_failure(error)
            if failed is not None:
                self.state[reg.urn] = ResourceState(old.id, old.inputs, failed.properties, list(failed.reasons))
            raise
        self.state[reg.urn] = ResourceState(old.id, news, updated.properties)

    def _create(self, reg: Registration, news: struct_pb2.Struct) -> None:
        """Create, and record the result unless the deployment is interrupted here (``interrupt`` holds the URN
        or name): the plugin's work is done, but state is never saved, as when ``up`` is killed mid-create."""
        try:
            created = self.plugin.Create(provider_pb2.CreateRequest(urn=reg.urn, properties=news))
        except grpc.RpcError as error:
            failed = init_failure(error)
            if failed is not None:  # made, but not settled: recorded with its init errors, as the engine does
                self.state[reg.urn] = ResourceState(failed.id, news, failed.properties, list(failed.reasons))
            raise
        if reg.urn in self.interrupt or reg.name in self.interrupt:
            raise Interrupted(reg.urn)
        self.state[reg.urn] = ResourceState(created.id, news, created.properties)

    def refresh(self) -> StepResult:
        result = StepResult()
        for urn, resource in list(self.state.items()):
            read = self.plugin.Read(
                provider_pb2.ReadRequest(id=resource.id, urn=urn, properties=resource.outputs, inputs=resource.inputs)
            )
            if not read.id:
                result.operations[urn] = "deleted"
                del self.state[urn]
            else:
                result.operations[urn] = "refreshed"
                resource.outputs = read.properties
        return result

    def read(self, reg: Registration, arm_id: str) -> ResourceState:
        """``Resource.get`` / ``import``: Read from only the id, with the program's inputs as the engine sends."""
        read = self.plugin.Read(provider_pb2.ReadRequest(id=arm_id, urn=reg.urn, inputs=reg.inputs))
        return ResourceState(read.id, read.inputs, read.properties)

    def import_(self, reg: Registration) -> StepResult:
        """``ResourceOptions(import_=id)``: Read, then Check and Diff the program's inputs against what was read."""
        result = StepResult()
        imported = self.read(reg, reg.import_id)
        self.state[reg.urn] = imported
        checked = self._check(reg, result)
        if checked is None:
            return result
        diff = self._diff(reg, checked)
        result.diffs[reg.urn] = diff
        result.operations[reg.urn] = "import" if not diff.replaces else "import-mismatch"
        imported.inputs = checked
        return result

    def _delete(self, urn: str, replaced: ResourceState | None = None) -> None:
        """A failed Delete keeps the resource in state, as the engine does. ``replaced``: the old resource of a
        create-before-delete replacement (state already holds its replacement)."""
        old = replaced or self.state[urn]
        self.plugin.Delete(
            provider_pb2.DeleteRequest(id=old.id, urn=urn, properties=old.outputs, old_inputs=old.inputs)
        )
        if replaced is None:
            del self.state[urn]

    def destroy(self) -> StepResult:
        result = StepResult()
        for urn in list(reversed(self.state)):
            result.operations[urn] = "delete"
            self._delete(urn)
        return result


# --- the native plugin ---------------------------------------------------------------------------------------

EXECUTION = "azure-elastic-jobs:index:JobExecution"
EXECUTION_SET = "azure-elastic-jobs:index:JobExecutionSet"
AGENT_CAMEL = {"resourceGroupName": "group1", "serverName": "server1", "jobAgentName": "agent1"}
QUICK = "SELECT 1; -- emulator:duration=0"


def urn(name: str, type_: str = EXECUTION, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::native-tests::{type_}::{name}"


class NativePlugin:
    """The console script in a subprocess, reached over gRPC; configured as the engine does for a provider."""

    def __init__(self, engine_address: str, emulator: Any | None = None, cwd: Path | None = None) -> None:
        """``cwd``: where the engine starts it, a program's folder (default: this process's)."""
        executable = Path(sys.executable).with_name("elastic-jobs-provider")
        command = (
            [str(executable)] if executable.exists() else [sys.executable, "-m", "pulumi_azure_elastic_jobs.native"]
        )
        self.process = subprocess.Popen(
            [*command, engine_address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline().decode().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        if emulator is not None:
            self.configure(emulator)

    def configure(self, emulator: Any, **extra: str) -> None:
        args = {"endpoint": emulator.url, "token": emulator.token, "subscriptionId": DEFAULT_SUBSCRIPTION, **extra}
        self.stub.Configure(provider_pb2.ConfigureRequest(args=to_struct(args), acceptSecrets=True))

    def check(self, name: str, news: dict[str, Any], olds: dict[str, Any] | None = None, type_: str = EXECUTION) -> Any:
        request = provider_pb2.CheckRequest(urn=urn(name, type_), olds=to_struct(olds or {}), news=to_struct(news))
        return self.stub.Check(request)

    def create(
        self, name: str, inputs: dict[str, Any], type_: str = EXECUTION, timeout: float = 0
    ) -> tuple[str, dict[str, Any]]:
        checked = self.check(name, inputs, type_=type_)
        assert not checked.failures, checked.failures
        created = self.stub.Create(
            provider_pb2.CreateRequest(urn=urn(name, type_), properties=checked.inputs, timeout=timeout), timeout=300
        )
        return created.id, from_struct(created.properties)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.channel.close()


class NativeStubs:
    """The native plugin's gRPC methods under the names the engine stand-in calls (it speaks to ``Plugin`` so)."""

    def __init__(self, plugin: NativePlugin) -> None:
        self.plugin = plugin

    def __getattr__(self, method: str) -> Any:
        return getattr(self.plugin.stub, method)

    def kill(self) -> None:
        self.plugin.kill()


def camel_inputs(value: Any, key: str | None = None) -> Any:
    """Inputs in the schema's camelCase, as a native program registers them; member keys and triggers kept."""
    if not isinstance(value, dict) or key in ("triggers", "step_scripts"):
        return value
    if key == "members":
        return {name: camel_inputs(item) for name, item in value.items()}
    return {camel(name): camel_inputs(item, name) for name, item in value.items()}


def snake_outputs(value: Any, user_keyed: bool = False) -> Any:
    """Native outputs in the core's snake_case names; member keys, triggers and lifecycle counts kept."""
    if not isinstance(value, dict):
        return value
    if user_keyed:
        return {key: snake_outputs(item) for key, item in value.items()}
    return {
        snake(key): item
        if snake(key) in ("triggers", "step_scripts")
        else snake_outputs(item, snake(key) in ("members", "executions", "counts"))
        for key, item in value.items()
    }


@dataclass
class SetFace:
    """One plugin, played by the engine stand-in; ``up`` declares the set anew, ``set_state`` reads it back (in the
    core's names, through ``to_core``)."""

    engine: Engine
    declare: Callable[..., list[Registration]]
    to_core: Callable[[Any], Any]

    def up(self, **inputs: Any) -> None:
        self.engine.up(self.declare(**inputs))

    def set_state(self) -> dict[str, Any]:
        (state,) = self.engine.state.values()
        outputs: dict[str, Any] = self.to_core(state.output_props)
        return outputs
