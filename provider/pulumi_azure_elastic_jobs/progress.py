"""Live status on the resource's row of the CLI while a run is waited for, through the engine's ``Log`` RPC.

The SDK's dynamic-provider plugin hands neither the resource's URN nor the engine's address to ``create``, but
both are at hand: the engine starts every plugin with its own gRPC address as the last argument, and the URN is
in the gRPC request that this thread is serving (a local of the plugin's ``Create``/``Update``/``Read``/
``Delete`` method further up the stack). Nothing is added to the resource's inputs, so previews stay clean.

An ephemeral message is the status text next to the resource (an empty one clears it); a non-ephemeral one
lands in the resource's diagnostics. Messages are sent from the polling thread, once per poll at most and only
when the text changed; a failure to send switches that reporter to plain logging and never fails the
deployment. Without an engine (the engine-protocol tests, a plain script) the same text goes to logging.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

SERVICER_METHODS = frozenset({"Check", "Create", "Update", "Read", "Delete"})
ADDRESS = re.compile(r"(?:[\w.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}")
SEND_TIMEOUT_SECONDS = 2.0

_stubs: dict[str, Any] = {}
_stubs_lock = threading.Lock()


def serving_urn(frame: FrameType | None = None) -> str | None:
    """The URN of the resource whose gRPC call this thread is serving, if it is serving one."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in SERVICER_METHODS:
            urn = getattr(frame.f_locals.get("request"), "urn", None)
            if isinstance(urn, str) and urn.startswith("urn:pulumi:"):
                return urn
        frame = frame.f_back
    return None


def engine_address(argv: list[str] | None = None) -> str | None:
    """The engine's gRPC address: the last argument the engine started this plugin with."""
    argv = sys.argv if argv is None else argv
    last = argv[-1] if len(argv) > 1 else ""
    return last if ADDRESS.fullmatch(last) else None


def _engine(address: str) -> Any:
    with _stubs_lock:
        stub = _stubs.get(address)
        if stub is None:
            import grpc
            from pulumi.runtime.proto import engine_pb2_grpc

            stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))
            _stubs[address] = stub
        return stub


class Progress:
    """One resource's status while a call waits: ``status`` (the row), ``note`` (its diagnostics)."""

    def __init__(self, urn: str | None, address: str | None, spell: Callable[[str], str] | None = None) -> None:
        self.urn = urn
        self._engine = _engine(address) if urn and address else None
        self._shown = ""
        self._spell = spell
        """How the face spells the property names a message names (the native plugin's program's language)."""

    @classmethod
    def here(cls) -> Progress:
        """A reporter for the resource this thread is serving, talking to the engine that started the plugin."""
        return cls(serving_urn(sys._getframe(1)), engine_address())

    @property
    def live(self) -> bool:
        return self._engine is not None

    def status(self, text: str) -> None:
        if text != self._shown:
            self._shown = text
            self._send(text, ephemeral=True)

    def note(self, text: str) -> None:
        self._send(text, ephemeral=False)

    def warn(self, text: str) -> None:
        """A warning on the resource's diagnostics: something the user asked for did not happen as asked."""
        self._send(text, ephemeral=False, warning=True)

    def close(self) -> None:
        if self._shown:
            self.status("")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _send(self, text: str, ephemeral: bool, warning: bool = False) -> None:
        text = self._spell(text) if self._spell is not None else text
        level = logging.WARNING if warning else logging.INFO
        if self._engine is None:
            if text:
                log.log(level, "%s", text)
            return
        from pulumi.runtime.proto import engine_pb2

        severity = engine_pb2.WARNING if warning else engine_pb2.INFO
        request = engine_pb2.LogRequest(severity=severity, message=text, urn=self.urn or "", ephemeral=ephemeral)
        try:
            self._engine.Log(request, timeout=SEND_TIMEOUT_SECONDS)
        except Exception as error:  # a status line must never fail a deployment
            log.debug("the engine did not take a status message (%s); logging instead", type(error).__name__)
            self._engine = None
            if text:
                log.log(level, "%s", text)


def duration(seconds: float) -> str:
    """``45s``, ``4m12s``, ``2h03m``: how the CLI itself shows elapsed time, give or take."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
