"""Node servicers on 127.0.0.1 for the gateway and shardio tests: real
stores in temporary folders, real grpc.aio servers and channels, a count of
the calls each node served, and nodes as they were before the unary shard
calls (PutWholeShard, ReadChunks), the streams and DeleteShards existed."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from node.service import NodeIdentity, NodeServicer
from node.store import ShardStore
from proto.node_rpc import NodeStub, add_node_servicer
from proto.rpc import call_metadata, new_channel, new_server

SECRET = "test-secret"
CALL_METADATA = call_metadata(SECRET)


class CountingServicer(NodeServicer):
    """A node that counts the calls it is asked, by method, the requests
    asked over ReadChunksStream or ReadChunksPacked ("streamed read") and
    PutWholeShardStream or PutWholeShardPacked ("streamed write"), and (in
    messages, by the same names) the packed methods' messages; old=True
    answers the unary shard calls, the streams and DeleteShards
    UNIMPLEMENTED, as a node that predates them does, no_stream=True only
    the streams."""

    def __init__(
        self, *args: Any, old: bool = False, no_stream: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()
        self.messages: Counter[str] = Counter()  # of the packed methods
        self._old = old
        self._no_stream = no_stream or old

    def reads(self) -> int:
        """ReadChunks requests asked, by call or over the stream."""
        return self.calls["ReadChunks"] + self.calls["streamed read"]

    def _counted(self, requests, name: str):  # type: ignore[no-untyped-def]
        async def counted():  # type: ignore[no-untyped-def]
            async for item in requests:
                self.calls[name] += 1
                yield item

        return counted()

    async def PutShard(self, request_iterator, context):  # type: ignore[no-untyped-def]
        self.calls["PutShard"] += 1
        return await super().PutShard(request_iterator, context)

    async def GetShard(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["GetShard"] += 1
        async for chunk in super().GetShard(request, context):
            yield chunk

    async def PutWholeShard(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["PutWholeShard"] += 1
        if self._old:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        return await super().PutWholeShard(request, context)

    async def ReadChunks(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["ReadChunks"] += 1
        if self._old:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        return await super().ReadChunks(request, context)

    async def ReadChunksStream(self, requests, context):  # type: ignore[no-untyped-def]
        self.calls["ReadChunksStream"] += 1
        if self._no_stream:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        async for answer in super().ReadChunksStream(
            self._counted(requests, "streamed read"), context
        ):
            yield answer

    def _counted_packed(self, messages, name: str, items):  # type: ignore[no-untyped-def]
        async def counted():  # type: ignore[no-untyped-def]
            async for message in messages:
                self.calls[name] += len(items(message))
                self.messages[name] += 1
                yield message

        return counted()

    async def ReadChunksPacked(self, requests, context):  # type: ignore[no-untyped-def]
        self.calls["ReadChunksPacked"] += 1
        if self._no_stream:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        counted = self._counted_packed(requests, "streamed read", lambda m: m.reads)
        async for answer in super().ReadChunksPacked(counted, context):
            yield answer

    async def PutWholeShardPacked(self, requests, context):  # type: ignore[no-untyped-def]
        self.calls["PutWholeShardPacked"] += 1
        if self._no_stream:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        counted = self._counted_packed(requests, "streamed write", lambda m: m)
        async for answer in super().PutWholeShardPacked(counted, context):
            yield answer

    async def DeleteShard(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["DeleteShard"] += 1
        return await super().DeleteShard(request, context)

    async def DeleteShards(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["DeleteShards"] += 1
        if self._old:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        return await super().DeleteShards(request, context)

    async def PutWholeShardStream(self, requests, context):  # type: ignore[no-untyped-def]
        self.calls["PutWholeShardStream"] += 1
        if self._no_stream:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        async for answer in super().PutWholeShardStream(
            self._counted(requests, "streamed write"), context
        ):
            yield answer


@dataclass
class LoopbackNode:
    node_id: str
    store: ShardStore
    servicer: CountingServicer
    stub: NodeStub

    def quarantined(self) -> list[str]:
        return sorted(p.name for p in self.store.quarantine_dir.iterdir())


@contextlib.asynccontextmanager
async def loopback_nodes(
    root: Path,
    count: int,
    old: bool = False,
    no_stream: bool = False,
    servicer_class: type[CountingServicer] = CountingServicer,
    packing: bool | None = None,
) -> AsyncIterator[list[LoopbackNode]]:
    """count nodes, each with its own store under root; packing: the stubs'
    (NodeStub's)."""
    executor = ThreadPoolExecutor(max_workers=4)
    nodes: list[LoopbackNode] = []
    servers: list[grpc.aio.Server] = []
    channels: list[grpc.aio.Channel] = []
    try:
        for i in range(count):
            node_id = f"node-{i}"
            store = ShardStore(root / node_id)
            servicer = servicer_class(
                store,
                executor,
                NodeIdentity(node_id, "zone-a", 10**12),
                old=old,
                no_stream=no_stream,
            )
            server = new_server(SECRET)
            add_node_servicer(servicer, server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            servers.append(server)
            channel = new_channel(f"127.0.0.1:{port}")
            channels.append(channel)
            nodes.append(LoopbackNode(node_id, store, servicer, NodeStub(channel, packing=packing)))
        yield nodes
    finally:
        for channel in channels:
            await channel.close(None)
        for server in servers:
            await server.stop(None)
        executor.shutdown(wait=True)
        for node in nodes:
            node.store.close()
