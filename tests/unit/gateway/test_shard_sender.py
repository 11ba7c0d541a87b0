"""gateway/write_path.py's ShardSender against real node servicers on
127.0.0.1: a one-stripe shard is one PutWholeShard request (over the node's
write stream, or a unary call with TESSERA_NODE_STREAMS=0: those tests run
both ways), made only once the end of the body is queued (a body that fails
sends nothing); a node without the stream is asked with the call, one that
predates PutWholeShard gets the same message on a PutShard stream; a write
the node does not confirm in time is recorded as failed; a longer shard is a
PutShard stream."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from gateway.write_path import ShardSender
from proto import call_stream
from proto import tessera_pb2 as pb
from tessera.checksum import crc32c
from tessera.ids import new_version_id
from tests.unit.loopback_nodes import (
    CALL_METADATA,
    CountingServicer,
    LoopbackNode,
    loopback_nodes,
)

pytestmark = pytest.mark.usefixtures("loop_watchdog")


def header(object_size_bytes: int) -> pb.ShardHeader:
    return pb.ShardHeader(
        bucket="b",
        key="k",
        version_id=new_version_id(),
        shard_index=0,
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=64,
        object_size_bytes=object_size_bytes,
        stripe_count=-(-object_size_bytes // 128),
    )


@pytest.fixture(params=[True, False], ids=["stream", "calls"])
def streams(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(call_stream, "ENABLED", request.param)
    return bool(request.param)


def with_stream(streams: bool, **calls: int) -> dict[str, int]:
    """What a node counts: calls, and the stream asked first when streams are on."""
    return ({"PutWholeShardPacked": 1} if streams else {}) | calls


async def send_shard(
    node: LoopbackNode, head: pb.ShardHeader, chunks: list[bytes], crcs: list[int] | None = None
) -> ShardSender:
    sender = ShardSender(0, node.node_id, node.stub, head, CALL_METADATA)
    sender.task = asyncio.create_task(sender.run(10.0))
    for i, chunk in enumerate(chunks):
        await sender.send(sender.request(i, chunk, crc32c(chunk) if crcs is None else crcs[i]))
    sender.trailer = b'{"kind":"version"}'
    await sender.send(None)
    await sender.task
    return sender


async def test_a_one_stripe_shard_is_one_put_whole_shard_request(tmp_path: Path, streams: bool):
    chunk = os.urandom(50)
    async with loopback_nodes(tmp_path, 1) as (node,):
        head = header(100)
        sender = await send_shard(node, head, [chunk])
        assert sender.stored and sender.error is None
        assert dict(node.servicer.calls) == (
            {"PutWholeShardPacked": 1, "streamed write": 1} if streams else {"PutWholeShard": 1}
        )
        assert list(node.store.read_stripes(head.version_id, 0)) == [chunk]
        assert node.store.read_trailer(head.version_id, 0)[1] == b'{"kind":"version"}'


async def test_nothing_is_sent_before_the_end_of_the_body(tmp_path: Path):
    chunk = os.urandom(50)
    async with loopback_nodes(tmp_path, 1) as (node,):
        head = header(100)
        sender = ShardSender(0, node.node_id, node.stub, head, CALL_METADATA)
        sender.task = asyncio.create_task(sender.run(10.0))
        await sender.send(sender.request(0, chunk, crc32c(chunk)))
        sender.task.cancel()  # the body failed its digest: the write is abandoned
        with pytest.raises(asyncio.CancelledError):
            await sender.task
        assert not sender.stored
        assert dict(node.servicer.calls) == {}
        assert node.store.shard_count == 0


async def test_a_node_without_the_write_stream_is_asked_with_calls(tmp_path: Path):
    async with loopback_nodes(tmp_path, 1, no_stream=True) as (node,):
        for _ in range(2):
            chunk = os.urandom(50)
            head = header(100)
            sender = await send_shard(node, head, [chunk])
            assert sender.stored
            assert list(node.store.read_stripes(head.version_id, 0)) == [chunk]
        # asked for the stream once, then only with calls
        assert dict(node.servicer.calls) == {"PutWholeShardPacked": 1, "PutWholeShard": 2}


async def test_a_node_that_predates_put_whole_shard_gets_a_stream(tmp_path: Path, streams: bool):
    chunk = os.urandom(50)
    async with loopback_nodes(tmp_path, 1, old=True) as (node,):
        head = header(100)
        sender = await send_shard(node, head, [chunk])
        assert sender.stored
        assert dict(node.servicer.calls) == with_stream(streams, PutWholeShard=1, PutShard=1)
        assert list(node.store.read_stripes(head.version_id, 0)) == [chunk]
        assert node.store.read_trailer(head.version_id, 0)[1] == b'{"kind":"version"}'


async def test_a_bad_checksum_is_refused_and_recorded(tmp_path: Path, streams: bool):
    chunk = os.urandom(50)
    async with loopback_nodes(tmp_path, 1) as (node,):
        sender = await send_shard(node, header(100), [chunk], crcs=[crc32c(chunk) ^ 1])
        assert not sender.stored and sender.error is not None
        assert "DATA_LOSS" in str(sender.error) or "DATA_LOSS" in repr(sender.error)
        assert node.store.shard_count == 0


class StalledServicer(CountingServicer):
    """Takes every whole-shard write and never finishes it."""

    async def _put_whole(self, whole):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()


async def test_a_write_not_confirmed_in_time_is_recorded_as_failed(tmp_path: Path, streams: bool):
    chunk = os.urandom(50)
    async with loopback_nodes(tmp_path, 1, servicer_class=StalledServicer) as (node,):
        sender = ShardSender(0, node.node_id, node.stub, header(100), CALL_METADATA)
        sender.task = asyncio.create_task(sender.run(0.3))
        await sender.send(sender.request(0, chunk, crc32c(chunk)))
        await sender.send(None)
        await sender.task
        assert not sender.stored and sender.error is not None
        assert node.store.shard_count == 0


async def test_a_longer_shard_is_a_stream(tmp_path: Path):
    chunks = [os.urandom(64), os.urandom(64), os.urandom(30)]
    async with loopback_nodes(tmp_path, 1) as (node,):
        head = header(2 * 64 * 2 + 60)
        assert head.stripe_count == 3
        sender = await send_shard(node, head, chunks)
        assert sender.stored
        assert dict(node.servicer.calls) == {"PutShard": 1}
        assert list(node.store.read_stripes(head.version_id, 0)) == chunks
