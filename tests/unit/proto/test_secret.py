"""proto/rpc.py's SecretInterceptor: every method of the Node and Metadata
services refuses a call without the cluster secret, with another one, or
with it under another header, before the servicer runs; with the secret the
servicer's method runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from metadata.service import add_to_server
from proto import tessera_pb2 as pb
from proto.node_rpc import add_node_servicer
from proto.rpc import call_metadata, new_channel, new_server

SECRET = "the-secret"
TIMEOUT_SECONDS = 5.0


class Recorder:
    """A servicer whose every method records that it ran and fails."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def method(request: Any, context: grpc.aio.ServicerContext) -> None:
            self.ran.append(name)
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{name} ran")

        return method


async def _call(channel: grpc.aio.Channel, service: str, method: Any, metadata: Any) -> None:
    path = f"/{service}/{method.name}"
    if method.client_streaming and method.server_streaming:
        stream = channel.stream_stream(path)(
            iter([b""]), metadata=metadata, timeout=TIMEOUT_SECONDS
        )
        async for _ in stream:
            pass
    elif method.client_streaming:
        await channel.stream_unary(path)(iter([b""]), metadata=metadata, timeout=TIMEOUT_SECONDS)
    elif method.server_streaming:
        async for _ in channel.unary_stream(path)(b"", metadata=metadata, timeout=TIMEOUT_SECONDS):
            pass
    else:
        await channel.unary_unary(path)(b"", metadata=metadata, timeout=TIMEOUT_SECONDS)


@pytest.mark.parametrize("service", ["Node", "Metadata"])
async def test_every_method_refuses_calls_without_the_secret(service: str) -> None:
    recorder = Recorder()
    server = new_server(SECRET)
    if service == "Node":
        add_node_servicer(recorder, server)
    else:
        add_to_server(recorder, server)  # type: ignore[arg-type]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    methods = pb.DESCRIPTOR.services_by_name[service].methods
    assert len(methods) > 5
    try:
        async with new_channel(f"127.0.0.1:{port}") as channel:
            for method in methods:
                for metadata in (None, call_metadata("another-secret"), (("x-other", SECRET),)):
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await _call(channel, f"tessera.{service}", method, metadata)
                    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.name
                assert recorder.ran == []
                with pytest.raises(grpc.aio.AioRpcError) as ran:
                    await _call(channel, f"tessera.{service}", method, call_metadata(SECRET))
                assert ran.value.code() == grpc.StatusCode.FAILED_PRECONDITION, method.name
                assert recorder.ran == [method.name]
                recorder.ran.clear()
    finally:
        await server.stop(None)
