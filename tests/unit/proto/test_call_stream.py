"""proto/call_stream.py against a real node servicer on 127.0.0.1: many
reads share one ReadChunksPacked call and each gets its own request's
answer, in the order they are ready; a read that fails on the node fails
alone, with ReadChunks' status; a read given up on is forgotten; when the
node goes away every waiting read fails, and the next read opens a new
stream. Writes share one PutWholeShardPacked call, each answered once its
shard is durable, a bad one refused alone. Requests sent together go as one
message, answers ready together too; the unpacked streams (ReadChunksStream,
PutWholeShardStream) are still served."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from node.service import NodeIdentity
from node.shard_format import ShardMeta
from node.store import ShardStore
from proto import tessera_pb2 as pb
from proto.call_stream import PACK_BYTES_MAX, CallFailed, CallStream, _packed
from proto.node_rpc import CALLS_PER_MESSAGE, NodeStub, add_node_servicer
from proto.rpc import new_channel, new_server
from proto.wire import WholeShardMessage, WireChunk
from tessera.checksum import crc32c
from tessera.ids import new_version_id
from tests.unit.loopback_nodes import CALL_METADATA, SECRET, CountingServicer, loopback_nodes

pytestmark = pytest.mark.usefixtures("loop_watchdog")

CHUNK_BYTES = 64
CHUNKS = [os.urandom(CHUNK_BYTES) for _ in range(2)]


def put_shard(store: ShardStore, chunks: list[bytes]) -> str:
    """One shard (index 0 of a 1 + 1 code) of len(chunks) stripes."""
    version_id = new_version_id()
    size = sum(len(c) for c in chunks)
    meta = ShardMeta("b", "k", version_id, 0, 1, 1, CHUNK_BYTES, size, len(chunks))
    with store.begin_write(meta) as writer:
        for stripe, chunk in enumerate(chunks):
            writer.append(stripe, chunk, crc32c(chunk))
        writer.commit(len(chunks))
    return version_id


def request(version_id: str, stripe: int = 0, count: int = 1) -> pb.ReadChunksRequest:
    return pb.ReadChunksRequest(
        version_id=version_id, shard_index=0, stripe_start=stripe, stripe_count=count
    )


class HangingServicer(CountingServicer):
    """Holds reads of the stripe HANG until release is set."""

    HANG = 1

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.held = asyncio.Event()

    async def _serve_read(self, request):  # type: ignore[no-untyped-def]
        if request.stripe_start == self.HANG:
            self.held.set()
            await self.release.wait()
        return await super()._serve_read(request)


async def test_many_reads_share_one_stream_and_each_gets_its_own_answer(tmp_path: Path):
    async with loopback_nodes(tmp_path, 1) as (node,):
        shards = {}
        for _ in range(8):
            chunks = [os.urandom(CHUNK_BYTES) for _ in range(3)]
            shards[put_shard(node.store, chunks)] = chunks
        asked = [(v, s) for v in shards for s in range(3)] * 3
        answers = await asyncio.gather(
            *(node.stub.read_stream.call(request(v, s), CALL_METADATA) for v, s in asked)
        )
        for (version_id, stripe), answer in zip(asked, answers, strict=True):
            (chunk,) = answer.chunks
            assert chunk.stripe_index == stripe
            assert bytes(chunk.data) == shards[version_id][stripe]
            assert chunk.crc32c == crc32c(shards[version_id][stripe])
        assert node.servicer.calls["ReadChunksPacked"] == 1
        assert node.servicer.calls["streamed read"] == len(asked)
        assert node.servicer.calls["ReadChunks"] == 0


async def test_a_failed_read_fails_alone_with_the_status_read_chunks_would_give(
    tmp_path: Path,
):
    async with loopback_nodes(tmp_path, 1) as (node,):
        version_id = put_shard(node.store, CHUNKS)
        stream = node.stub.read_stream
        good = stream.call(request(version_id, 1), CALL_METADATA)
        bad = {
            grpc.StatusCode.NOT_FOUND: request(new_version_id()),
            grpc.StatusCode.OUT_OF_RANGE: request(version_id, 5),
            grpc.StatusCode.INVALID_ARGUMENT: request(version_id, 0, 0),
        }
        failing = {code: stream.call(asked, CALL_METADATA) for code, asked in bad.items()}
        assert bytes((await good).chunks[0].data) == CHUNKS[1]
        for code, future in failing.items():
            with pytest.raises(CallFailed) as failed:
                await future
            assert failed.value.code == code and failed.value.message
            # the unary call fails the same way
            with pytest.raises(grpc.aio.AioRpcError) as unary:
                await node.stub.ReadChunks(bad[code], metadata=CALL_METADATA)
            assert unary.value.code() == code
        # the stream is still the one it was
        again = await stream.call(request(version_id), CALL_METADATA)
        assert bytes(again.chunks[0].data) == CHUNKS[0]
        assert node.servicer.calls["ReadChunksPacked"] == 1


@contextlib.asynccontextmanager
async def held_reads(tmp_path: Path) -> AsyncIterator[tuple[HangingServicer, CallStream, str]]:
    """A node holding reads of stripe HANG, its read stream, and a shard of
    two stripes (CHUNKS) on it."""
    async with loopback_nodes(tmp_path, 1, servicer_class=HangingServicer) as (node,):
        assert isinstance(node.servicer, HangingServicer)
        yield node.servicer, node.stub.read_stream, put_shard(node.store, CHUNKS)


async def test_answers_come_as_they_are_ready(tmp_path: Path):
    async with held_reads(tmp_path) as (servicer, stream, version_id):
        slow = stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA)
        await servicer.held.wait()
        fast = await stream.call(request(version_id, 0), CALL_METADATA)  # asked later
        assert bytes(fast.chunks[0].data) == CHUNKS[0] and not slow.done()  # answered first
        servicer.release.set()
        assert bytes((await slow).chunks[0].data) == CHUNKS[1]


async def test_a_read_given_up_on_is_forgotten(tmp_path: Path):
    async with held_reads(tmp_path) as (servicer, stream, version_id):
        slow = stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA)
        await servicer.held.wait()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow, 0.05)  # gives up: cancels the future
        assert slow.cancelled()
        # other reads go on meanwhile
        fast = await stream.call(request(version_id, 0), CALL_METADATA)
        assert bytes(fast.chunks[0].data) == CHUNKS[0]
        servicer.release.set()  # the slow answer comes, and is dropped
        again = await stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA)
        assert bytes(again.chunks[0].data) == CHUNKS[1]
        assert all(not s.waiting for s in stream._streams.values())
        assert servicer.calls["ReadChunksPacked"] == 1


async def _serve(servicer: CountingServicer, port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = new_server(SECRET)
    add_node_servicer(servicer, server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, port


@dataclass
class _OwnNode:
    """A node of HangingServicer on its own server, its channel, and a shard
    of CHUNKS on it."""

    store: ShardStore
    executor: ThreadPoolExecutor
    identity: NodeIdentity
    servicer: HangingServicer
    server: grpc.aio.Server
    port: int
    channel: grpc.aio.Channel
    version_id: str


@contextlib.asynccontextmanager
async def own_node(tmp_path: Path) -> AsyncIterator[_OwnNode]:
    store = ShardStore(tmp_path / "node")
    version_id = put_shard(store, CHUNKS)
    identity = NodeIdentity("node", "zone-a", 10**12)
    with ThreadPoolExecutor(max_workers=2) as executor:
        servicer = HangingServicer(store, executor, identity)
        server, port = await _serve(servicer)
        channel = new_channel(f"127.0.0.1:{port}")
        try:
            yield _OwnNode(store, executor, identity, servicer, server, port, channel, version_id)
        finally:
            servicer.release.set()
            await channel.close(None)
            await server.stop(None)
            store.close()


async def test_reads_waiting_on_a_node_that_goes_away_fail_and_the_next_read_reopens(
    tmp_path: Path,
):
    async with own_node(tmp_path) as node:
        version_id = node.version_id
        restarted: grpc.aio.Server | None = None
        try:
            stream = NodeStub(node.channel).read_stream
            waiting = [
                stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA)
                for _ in range(3)
            ]
            await node.servicer.held.wait()
            await node.server.stop(None)  # the node goes away with three reads waiting
            for future in waiting:
                with pytest.raises(CallFailed) as failed:
                    await future
                assert failed.value.code != grpc.StatusCode.OK
            assert not stream._streams  # the ended stream is dropped
            # the node comes back on the same port: a later read opens a new stream
            back = CountingServicer(node.store, node.executor, node.identity)
            restarted, _ = await _serve(back, node.port)
            answer = None
            for _ in range(100):
                try:
                    answer = await stream.call(request(version_id, 1), CALL_METADATA)
                    break
                except CallFailed:  # the channel is still reconnecting
                    await asyncio.sleep(0.05)
            assert answer is not None and bytes(answer.chunks[0].data) == CHUNKS[1]
            assert back.calls["ReadChunksPacked"] >= 1 and back.calls["streamed read"] >= 1
        finally:
            if restarted is not None:
                await restarted.stop(None)


async def test_a_stopping_node_answers_the_reads_it_took_and_ends_the_stream(tmp_path: Path):
    """Graceful stop: the node takes no new request on its streams, answers
    the ones it took, and ends them, so stopping does not wait out its grace
    for a caller's long-lived stream."""
    async with own_node(tmp_path) as node:
        servicer, version_id = node.servicer, node.version_id
        stream = NodeStub(node.channel).read_stream
        assert bytes((await stream.call(request(version_id, 0), CALL_METADATA)).chunks[0].data)
        taken = stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA)
        await servicer.held.wait()
        servicer.closing.set()  # the node starts to stop
        late = stream.call(request(version_id, 0), CALL_METADATA)
        stopping = asyncio.ensure_future(node.server.stop(60))  # a long grace
        await asyncio.sleep(0.1)
        assert not late.done()  # not taken (a read of stripe 0 is immediate)
        servicer.release.set()
        assert bytes((await taken).chunks[0].data) == CHUNKS[1]
        with pytest.raises(CallFailed) as failed:
            await late
        assert failed.value.code == grpc.StatusCode.UNAVAILABLE
        await asyncio.wait_for(stopping, 10)  # the stream ended: no 60 s wait
        assert servicer.calls["streamed read"] == 2


def whole_shard(chunk: bytes, crc: int | None = None) -> tuple[str, WholeShardMessage]:
    version_id = new_version_id()
    header = pb.ShardHeader(
        bucket="b",
        key="k",
        version_id=version_id,
        shard_index=0,
        data_shards=1,
        parity_shards=1,
        chunk_size_bytes=CHUNK_BYTES,
        object_size_bytes=len(chunk),
        stripe_count=1,
    )
    crc = crc32c(chunk) if crc is None else crc
    return version_id, WholeShardMessage(header, WireChunk(0, chunk, crc), b"trailer")


async def test_writes_share_one_stream_and_each_is_durable_when_answered(tmp_path: Path):
    async with loopback_nodes(tmp_path, 1) as (node,):
        shards = [whole_shard(os.urandom(CHUNK_BYTES)) for _ in range(12)]
        _, bad = whole_shard(os.urandom(CHUNK_BYTES), crc=0)
        stream = node.stub.write_stream
        futures = [stream.call(whole, CALL_METADATA) for _, whole in shards]
        refused = stream.call(bad, CALL_METADATA)
        for (version_id, whole), future in zip(shards, futures, strict=True):
            answer = await future
            assert answer.stored_bytes > len(whole.chunk.data)
            # answered only once it is in the store, its trailer with it
            assert list(node.store.read_stripes(version_id, 0)) == [whole.chunk.data]
            assert node.store.read_trailer(version_id, 0)[1] == b"trailer"
        with pytest.raises(CallFailed) as failed:
            await refused  # a bad checksum fails alone, and stores nothing
        assert failed.value.code == grpc.StatusCode.DATA_LOSS
        assert node.store.shard_count == len(shards)
        assert node.servicer.calls["PutWholeShardPacked"] == 1
        assert node.servicer.calls["streamed write"] == len(shards) + 1
        assert "PutWholeShard" not in node.servicer.calls


class _Lists:
    """A Packer whose message is the list of its items (bytes)."""

    def join(self, items: list[bytes]) -> list[bytes]:
        return items

    def size(self, item: bytes) -> int:
        return len(item)


def test_a_packed_message_takes_what_is_queued_up_to_its_byte_bound() -> None:
    third = PACK_BYTES_MAX * 2 // 5
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    for item in (b"a" * third, b"b" * third, b"c" * third, b"d", None, b"e"):
        queue.put_nowait(item)
    first = queue.get_nowait()
    message, ended = _packed(first, queue, _Lists())
    assert [m[:1] for m in message] == [b"a", b"b", b"c"] and not ended  # over the bound at c
    message, ended = _packed(queue.get_nowait(), queue, _Lists())
    assert (message, ended) == ([b"d"], True)  # the queue's end: nothing after it is sent
    big = b"x" * (PACK_BYTES_MAX + 1)
    queue.put_nowait(b"y")
    assert _packed(big, queue, _Lists()) == ([big], False)  # goes alone


def _packed_so_far(stream: str, side: str) -> tuple[float, float]:
    """(messages, items) a packed stream's side has sent in this process."""
    metric = CALLS_PER_MESSAGE.labels(stream, side)
    samples = {s.name: s.value for s in next(iter(metric.collect())).samples}
    return samples["tessera_node_stream_calls_per_message_count"], samples[
        "tessera_node_stream_calls_per_message_sum"
    ]


async def test_reads_asked_together_go_as_one_message_and_answers_ready_together_too(
    tmp_path: Path,
):
    async with held_reads(tmp_path) as (servicer, stream, version_id):
        answers_before = _packed_so_far("read", "answers")
        futures = [
            stream.call(request(version_id, HangingServicer.HANG), CALL_METADATA) for _ in range(12)
        ]
        await servicer.held.wait()
        servicer.release.set()  # all twelve are ready at once
        for future in futures:
            assert bytes((await future).chunks[0].data) == CHUNKS[1]
        assert servicer.calls["streamed read"] == 12
        assert servicer.messages["streamed read"] == 1
        messages, items = _packed_so_far("read", "answers")
        assert items - answers_before[1] == 12
        assert messages - answers_before[0] == 1


async def test_writes_sent_together_go_as_one_message(tmp_path: Path):
    async with loopback_nodes(tmp_path, 1) as (node,):
        shards = [whole_shard(os.urandom(CHUNK_BYTES)) for _ in range(5)]
        stream = node.stub.write_stream
        await asyncio.gather(*(stream.call(whole, CALL_METADATA) for _, whole in shards))
        assert node.servicer.calls["streamed write"] == 5
        assert node.servicer.messages["streamed write"] == 1


async def test_gateways_that_do_not_pack_are_still_served(tmp_path: Path):
    """A gateway from before packing (or TESSERA_NODE_PACKING=0) sends one
    request a message over ReadChunksStream and PutWholeShardStream."""
    async with loopback_nodes(tmp_path, 1, packing=False) as (node,):
        version_id, whole = whole_shard(os.urandom(CHUNK_BYTES))
        assert (await node.stub.write_stream.call(whole, CALL_METADATA)).stored_bytes
        read = await node.stub.read_stream.call(request(version_id), CALL_METADATA)
        assert bytes(read.chunks[0].data) == bytes(whole.chunk.data)
        assert node.servicer.calls["PutWholeShardStream"] == 1
        assert node.servicer.calls["ReadChunksStream"] == 1
        assert "ReadChunksPacked" not in node.servicer.calls
