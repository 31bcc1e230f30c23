"""The floor of a Python provider plugin: the least a plugin built on the same SDK framework as ours does to serve.

It imports what ``pulumi-resource-azure-elastic-jobs`` imports from the SDK (``pulumi.provider.experimental``,
grpc, asyncio), serves the same servicer the same way (``grpc.aio``, a free loopback port printed for the engine),
and answers ``GetSchema`` with a schema of one resource that has no properties; ``Configure``, ``Check`` and
``Diff`` are the SDK's defaults, and ``Create`` and ``Delete`` do nothing. Benchmarks 8e and 8f run it beside the
real plugin: what a no-change ``up`` costs above this is ours to answer for, and what it costs below is any
Python plugin's.

``python benchmarks/floor_plugin.py <engine address>``; a launcher in the plugin cache names it ``python-floor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

import grpc
from pulumi.provider.experimental.provider import (
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    GetSchemaRequest,
    GetSchemaResponse,
    Provider,
)
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2_grpc

PACKAGE = "python-floor"
VERSION = "0.1.0"
SCHEMA = {
    "name": PACKAGE,
    "version": VERSION,
    "resources": {f"{PACKAGE}:index:Thing": {"description": "Nothing at all.", "properties": {}}},
}


class FloorProvider(Provider):
    async def get_schema(self, request: GetSchemaRequest) -> GetSchemaResponse:
        return GetSchemaResponse(schema=json.dumps(SCHEMA))

    async def create(self, request: CreateRequest) -> CreateResponse:
        return CreateResponse(resource_id="thing", properties={})

    async def delete(self, request: DeleteRequest) -> None:
        return None


def main() -> None:
    argv = sys.argv[1:]

    async def serve() -> None:
        server = grpc.aio.server()
        servicer = ProviderServicer(argv, VERSION, FloorProvider(), engine_address=argv[-1] if argv else "")
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
