"""``pulumi-resource-azure-elastic-jobs``: the native plugin's entry point, served over gRPC.

The SDK's server (``pulumi.provider.experimental.server``) reports a failed call as its message followed by
Python frames. This entry point serves the same servicer with one change, as the dynamic face does with
``plugin_errors``: an error this package understands (it names its cause and its fix) is reported as that
one line; anything else (a genuine bug) keeps its frames.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from .._version import __version__
from ..errors import ElasticJobsError
from ..progress import ADDRESS

GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]
SERVED_CALLS = ("Check", "Diff", "Create", "Read", "Update", "Delete", "Configure", "GetSchema")


def our_error(error: BaseException) -> ElasticJobsError | None:
    """Ours, if ``error`` is, or wraps (the SDK re-raises it with its frames as a new exception), one of ours."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ElasticJobsError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def details_of(error: ElasticJobsError) -> tuple[tuple[str, bytes], ...]:
    """What the engine must know beyond the message: the resource a partly failed create made."""
    from .provider import PartlyCreated

    if not isinstance(error, PartlyCreated):
        return ()
    from pulumi.provider.experimental.property_value import PropertyValue

    from ..plugin_errors import init_failed

    properties = PropertyValue.marshal_map(error.properties)
    return init_failed(error.resource_id, properties, str(error))


def one_line_servicer(base: type[Any]) -> type[Any]:
    """The SDK's servicer, with each served call reporting this package's errors as their message alone, and a
    Create keeping the engine's resource-status service for its preview's rows (:mod:`.views`)."""

    def plain(name: str) -> Any:
        inner = getattr(base, name)

        async def call(self: Any, request: Any, context: Any) -> Any:
            if name == "Create":  # the SDK's request drops where a preview's plan rows go: keep it for the call
                from .views import STATUS, ResourceStatus

                STATUS.set(ResourceStatus.of(request))
            try:
                return await inner(self, request, context)
            except Exception as error:
                ours = our_error(error)
                if ours is None:
                    raise
                import grpc

                from .spelling import spelled

                await context.abort(grpc.StatusCode.UNKNOWN, spelled(str(ours)), trailing_metadata=details_of(ours))

        call.__name__ = name
        return call

    return type("OneLineProviderServicer", (base,), {name: plain(name) for name in SERVED_CALLS})


def engine_address_of(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="pulumi-resource-azure-elastic-jobs", description=__doc__.splitlines()[0])
    parser.add_argument("engine", help="the Pulumi engine's gRPC address (host:port)")
    known, _ = parser.parse_known_args(argv)
    if not ADDRESS.fullmatch(known.engine):
        parser.error(f"the engine address must be host:port, got {known.engine!r}")
    return str(known.engine)


def main(argv: list[str] | None = None) -> None:
    """Serve the provider on a free loopback port, print the port (the engine reads it), run until stopped."""
    argv = sys.argv[1:] if argv is None else argv
    engine = engine_address_of(argv)
    import grpc
    from pulumi.provider.experimental.server import ProviderServicer
    from pulumi.runtime.proto import provider_pb2_grpc

    from .provider import ElasticJobsProvider

    provider = ElasticJobsProvider(engine)

    async def serve() -> None:
        server = grpc.aio.server(options=GRPC_OPTIONS)
        servicer = one_line_servicer(ProviderServicer)(argv, __version__, provider, engine_address=engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):  # the engine stops plugins with a signal
        asyncio.run(serve())


if __name__ == "__main__":
    main()
