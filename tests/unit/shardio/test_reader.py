"""shardio/reader.py over real node servicers on 127.0.0.1: a one-stripe
read is one ReadChunks request per shard (over the node's read stream, or a
unary call with TESSERA_NODE_STREAMS=0: every test runs both ways), a longer
one a GetShard stream; a corrupt chunk met by either is never yielded (the
read fails over to parity and the node quarantines the shard); a node
without the read stream is asked with calls, and one that predates
ReadChunks with GetShard; a range inside one stripe reads only the data
chunks it needs, and the whole stripe when one of them cannot be read."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from node.shard_format import PREFIX, RECORD, ShardMeta, encode_header
from proto import call_stream
from proto.wire import Buffer
from shardio import reader
from shardio.hedging import HedgePolicy
from tessera import errors
from tessera.checksum import crc32c
from tessera.codec import encode_stripe
from tessera.geometry import Geometry, span_for_range
from tessera.ids import new_version_id
from tests.unit.loopback_nodes import (
    CALL_METADATA,
    CountingServicer,
    LoopbackNode,
    loopback_nodes,
)

pytestmark = pytest.mark.usefixtures("loop_watchdog", "read_stream")


@pytest.fixture(params=[True, False], ids=["stream", "calls"])
def read_stream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(call_stream, "ENABLED", request.param)
    return bool(request.param)


def one_read(streamed: bool) -> dict[str, int]:
    """What a node counts after one ReadChunks request."""
    return {"ReadChunksPacked": 1, "streamed read": 1} if streamed else {"ReadChunks": 1}


GEOMETRY = Geometry(2, 1, 64)


class Observer:
    def __init__(self) -> None:
        self.failures: list[tuple[int, str]] = []
        self.checksum_failures = 0
        self.degraded = 0
        self.hedges = 0
        self.stragglers: list[int] = []

    def checksum_failure(self) -> None:
        self.checksum_failures += 1

    def degraded_stripe(self) -> None:
        self.degraded += 1

    def chunks_read(self, count: int) -> None:
        pass

    def shard_failure(self, source: reader.ShardSource, reason: str) -> None:
        self.failures.append((source.shard_index, reason))

    def hedged(self, count: int) -> None:
        self.hedges += count

    def straggler_dropped(self, source: reader.ShardSource) -> None:
        self.stragglers.append(source.shard_index)


def store_object(nodes: list[LoopbackNode], body: bytes) -> tuple[str, list[list[bytes]]]:
    """Writes shard i of body to nodes[i], straight into the stores."""
    version_id = new_version_id()
    count = GEOMETRY.stripe_count(len(body))
    shards: list[list[bytes]] = [[] for _ in nodes]
    for stripe in range(count):
        start = stripe * GEOMETRY.stripe_size_bytes
        data = body[start : start + GEOMETRY.stripe_data_bytes(len(body), stripe)]
        for i, chunk in enumerate(encode_stripe(data, GEOMETRY)):
            shards[i].append(chunk)
    for i, node in enumerate(nodes):
        meta = ShardMeta("b", "k", version_id, i, 2, 1, 64, len(body), count)
        with node.store.begin_write(meta) as writer:
            for stripe, chunk in enumerate(shards[i]):
                writer.append(stripe, chunk, crc32c(chunk))
            writer.commit(count)
    return version_id, shards


def flip_chunk_byte(node: LoopbackNode, version_id: str, shard_index: int, stripe: int) -> None:
    meta = node.store.read_meta(version_id, shard_index)
    header_length = len(encode_header(meta)) - PREFIX.size
    offset = PREFIX.size + header_length + stripe * (RECORD.size + 64) + RECORD.size
    with open(node.store.shard_path(version_id, shard_index), "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


async def read(
    nodes: list[LoopbackNode],
    version_id: str,
    size: int,
    first: int,
    last: int,
    columns: range | None = None,
    order: list[int] | None = None,
    hedge: HedgePolicy | None = None,
    unknown: frozenset[int] = frozenset(),
    observer: Observer | None = None,
):
    """Bytes first..last; sources in the order given (shard indexes), else 0,
    1, 2; those in unknown without a stub (a node the map does not know)."""
    observer = observer or Observer()
    indexes = order if order is not None else list(range(len(nodes)))
    sources = [
        reader.ShardSource(i, None if i in unknown else nodes[i].stub, nodes[i].node_id)
        for i in indexes
    ]
    with ThreadPoolExecutor(max_workers=2) as executor:
        span = span_for_range(GEOMETRY, first, last)
        stripes = reader.joined(
            reader.read_stripe_pieces(
                sources=sources,
                version_id=version_id,
                geometry=GEOMETRY,
                size_bytes=size,
                span=span,
                executor=executor,
                call_metadata=CALL_METADATA,
                timeout_seconds=lambda: 10.0,
                observer=observer,
                columns=columns,
                hedge=hedge,
            )
        )
        data = b"".join([s async for s in stripes])
    skip = span.skip_bytes
    if columns is not None:
        skip -= columns.start * GEOMETRY.chunk_bytes(size, span.stripe_start)
    return data[skip : skip + span.length_bytes], observer


async def test_a_one_stripe_read_is_one_read_chunks_request_per_data_shard(
    tmp_path: Path, read_stream: bool
):
    body = os.urandom(100)  # one stripe of 2 x 64 bytes
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        data, observer = await read(nodes, version_id, len(body), 0, 99)
        assert data == body
        assert [dict(n.servicer.calls) for n in nodes] == [one_read(read_stream)] * 2 + [{}]
        assert observer.failures == [] and observer.degraded == 0
        # more reads go over the same stream
        for _ in range(3):
            assert (await read(nodes, version_id, len(body), 0, 99))[0] == body
        assert [n.servicer.reads() for n in nodes] == [4, 4, 0]
        assert nodes[0].servicer.calls["ReadChunksPacked"] == (1 if read_stream else 0)


async def test_a_longer_read_is_a_stream(tmp_path: Path):
    body = os.urandom(1000)  # 8 stripes
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        data, _ = await read(nodes, version_id, len(body), 100, 400)
        assert data == body[100:401]
        assert [dict(n.servicer.calls) for n in nodes] == [{"GetShard": 1}] * 2 + [{}]
        # a range inside one stripe of a longer object: one message per shard
        data, _ = await read(nodes, version_id, len(body), 260, 300)
        assert data == body[260:301]
        assert nodes[0].servicer.reads() == 1


@pytest.mark.parametrize("size", [100, 1000])
async def test_a_corrupt_chunk_is_never_yielded_and_its_shard_is_quarantined(
    tmp_path: Path, size: int
):
    body = os.urandom(size)
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        flip_chunk_byte(nodes[1], version_id, 1, 0)
        data, observer = await read(nodes, version_id, size, 10, 90)  # stripe 0 only
        assert data == body[10:91]
        assert observer.failures == [(1, "DATA_LOSS")]
        assert observer.degraded == 1  # decoded from shard 0 and the parity shard
        assert nodes[2].servicer.reads() == 1
        assert [name.split(".")[:2] for name in nodes[1].quarantined()] == [[version_id, "1"]]
        assert nodes[0].quarantined() == [] and nodes[2].quarantined() == []


async def test_a_node_that_predates_read_chunks_is_read_with_get_shard(
    tmp_path: Path, read_stream: bool
):
    body = os.urandom(100)
    async with loopback_nodes(tmp_path, 3, old=True) as nodes:
        version_id, _ = store_object(nodes, body)
        data, observer = await read(nodes, version_id, len(body), 0, 99)
        assert data == body
        assert observer.failures == []
        asked = {"ReadChunks": 1, "GetShard": 1} | ({"ReadChunksPacked": 1} if read_stream else {})
        for node in nodes[:2]:
            assert dict(node.servicer.calls) == asked


async def test_a_node_without_the_read_stream_is_asked_with_calls(
    tmp_path: Path, read_stream: bool
):
    body = os.urandom(100)
    async with loopback_nodes(tmp_path, 3, no_stream=True) as nodes:
        version_id, _ = store_object(nodes, body)
        for _ in range(3):
            data, observer = await read(nodes, version_id, len(body), 0, 99)
            assert data == body and observer.failures == []
        # asked for the stream once, then only with calls
        asked = {"ReadChunks": 3} | ({"ReadChunksPacked": 1} if read_stream else {})
        for node in nodes[:2]:
            assert dict(node.servicer.calls) == asked


def calls(nodes: list[LoopbackNode]) -> list[int]:
    return [n.servicer.reads() for n in nodes]


@pytest.mark.parametrize(
    ("first", "last", "columns", "read_by"),
    [
        (260, 300, range(0, 1), [1, 0, 0]),  # stripe 2, bytes 4..44: chunk 0
        (330, 350, range(1, 2), [0, 1, 0]),  # stripe 2, bytes 74..94: chunk 1
        (960, 999, range(1, 2), [0, 1, 0]),  # the short last stripe (52-byte chunks)
        (950, 955, range(1, 2), [0, 1, 0]),
        (900, 905, range(0, 1), [1, 0, 0]),
    ],
)
async def test_a_range_inside_one_stripe_reads_only_the_chunks_it_needs(
    tmp_path: Path, first: int, last: int, columns: range, read_by: list[int]
):
    body = os.urandom(1000)  # 8 stripes of 2 x 64 bytes, the last 104 bytes
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        data, observer = await read(nodes, version_id, len(body), first, last, columns)
        assert data == body[first : last + 1]
        assert calls(nodes) == read_by
        assert observer.failures == [] and observer.degraded == 0


async def test_a_chunk_a_range_needs_that_cannot_be_read_makes_it_a_whole_stripe_read(
    tmp_path: Path,
):
    body = os.urandom(1000)
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        flip_chunk_byte(nodes[1], version_id, 1, 2)  # stripe 2, chunk 1
        data, observer = await read(nodes, version_id, len(body), 330, 350, range(1, 2))
        assert data == body[330:351]  # decoded from chunk 0 and parity, never the bad bytes
        assert observer.failures == [(1, "DATA_LOSS")] and observer.degraded == 1
        assert calls(nodes) == [1, 1, 1]


async def test_a_needed_chunk_on_a_node_ranked_last_is_not_waited_for(tmp_path: Path):
    body = os.urandom(1000)
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        # as read_path orders them when shard 1's node is down: it comes last
        data, observer = await read(nodes, version_id, len(body), 330, 350, range(1, 2), [0, 2, 1])
        # a whole-stripe read from the first two sources, decoded
        assert data == body[330:351]
        assert calls(nodes) == [1, 0, 1] and observer.degraded == 1


async def test_a_stripes_pieces_are_its_chunks_as_received_cut_at_the_end_of_the_data(
    tmp_path: Path,
):
    body = os.urandom(99)  # one stripe: two chunks of 50 bytes, the second 49 of data
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        sources = [reader.ShardSource(i, n.stub, n.node_id) for i, n in enumerate(nodes)]
        with ThreadPoolExecutor(max_workers=2) as executor:

            async def pieces() -> list[list[Buffer]]:
                stripes = reader.read_stripe_pieces(
                    sources=sources,
                    version_id=version_id,
                    geometry=GEOMETRY,
                    size_bytes=len(body),
                    span=span_for_range(GEOMETRY, 0, 98),
                    executor=executor,
                    call_metadata=CALL_METADATA,
                    timeout_seconds=lambda: 10.0,
                    observer=Observer(),
                )
                return [s async for s in stripes]

            [healthy] = await pieces()
            # views into the received messages, never copied; the padding dropped
            assert [type(p) for p in healthy] == [memoryview, memoryview]
            assert [len(p) for p in healthy] == [50, 49]
            assert b"".join(healthy) == body
            flip_chunk_byte(nodes[0], version_id, 0, 0)
            [degraded] = await pieces()  # decoded from chunk 1 and parity: one piece
            assert len(degraded) == 1 and bytes(degraded[0]) == body


class HungServicer(CountingServicer):
    """A node that answers no read (ReadChunks by call or stream, GetShard)
    until release is set: alive to the failure detector, silent to reads.
    Or, with lag_seconds, one that answers every ReadChunks that late."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.hung = False
        self.release = asyncio.Event()
        self.lag_seconds = 0.0

    async def _serve_read(self, request):  # type: ignore[no-untyped-def]
        if self.hung:
            await self.release.wait()
        await asyncio.sleep(self.lag_seconds)
        return await super()._serve_read(request)

    async def GetShard(self, request, context):  # type: ignore[no-untyped-def]
        if self.hung:
            await self.release.wait()
        async for chunk in super().GetShard(request, context):
            yield chunk


def hang(node: LoopbackNode) -> HungServicer:
    assert isinstance(node.servicer, HungServicer)
    node.servicer.hung = True
    return node.servicer


def short_hedge() -> HedgePolicy:
    """Hedged 20 ms after the stripe's latest answer, or 0.5 s with none."""
    return HedgePolicy(factor=1.0, floor_seconds=0.02, ceiling_seconds=0.5)


@pytest.mark.parametrize("size", [100, 1000], ids=["one stripe", "eight stripes"])
async def test_a_shard_that_does_not_answer_is_hedged_with_a_spare(tmp_path: Path, size: int):
    """The hung shard is not waited for until SLOW_CHUNK_SECONDS: once its
    sibling has long answered, the parity shard is asked too, and the stripes
    are decoded from it, every one of them (a stream's later stripes come
    from the spare that replaced the straggler)."""
    body = os.urandom(size)
    async with loopback_nodes(tmp_path, 3, servicer_class=HungServicer) as nodes:
        version_id, _ = store_object(nodes, body)
        hung = hang(nodes[1])
        try:
            data, observer = await read(nodes, version_id, size, 0, size - 1, hedge=short_hedge())
        finally:
            hung.release.set()
        assert data == body
        assert observer.hedges == 1 and observer.stragglers == [1]
        assert observer.failures == []  # not a slow-chunk failure: dropped unanswered
        assert observer.degraded == GEOMETRY.stripe_count(size)
        assert nodes[2].servicer.calls  # the parity shard was read


async def test_shards_that_answer_within_the_delay_are_not_hedged(tmp_path: Path):
    body = os.urandom(1000)
    async with loopback_nodes(tmp_path, 3) as nodes:
        version_id, _ = store_object(nodes, body)
        hedge = HedgePolicy(floor_seconds=30.0, ceiling_seconds=30.0)
        for first, last in ((0, 99), (0, 999)):
            data, observer = await read(nodes, version_id, len(body), first, last, hedge=hedge)
            assert data == body[first : last + 1]
            assert observer.hedges == 0 and observer.stragglers == []
        assert nodes[2].servicer.calls == {}  # the parity shard was never asked


async def test_shards_all_slow_together_are_not_hedged(tmp_path: Path):
    """Every node answering 0.2 s late (a busy machine, not a straggler):
    the wait grows with the siblings' answers, so no spare is asked."""
    body = os.urandom(100)
    async with loopback_nodes(tmp_path, 3, servicer_class=HungServicer) as nodes:
        version_id, _ = store_object(nodes, body)
        for node in nodes:
            assert isinstance(node.servicer, HungServicer)
            node.servicer.lag_seconds = 0.2
        hedge = HedgePolicy(factor=3.0, floor_seconds=0.005, ceiling_seconds=5.0)
        data, observer = await read(nodes, version_id, len(body), 0, 99, hedge=hedge)
        assert data == body
        assert observer.hedges == 0 and nodes[2].servicer.calls == {}


async def test_a_hedge_that_fails_leaves_the_straggler_to_be_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Shard 1 hangs and the spare asked after the hedge wait cannot
    answer (its node is unknown): the read waits on for shard 1, which is
    then dropped as slow and nothing is left: ServiceUnavailable, no bytes."""
    monkeypatch.setattr(reader, "SLOW_CHUNK_SECONDS", 0.3)
    body = os.urandom(100)
    async with loopback_nodes(tmp_path, 3, servicer_class=HungServicer) as nodes:
        version_id, _ = store_object(nodes, body)
        hung = hang(nodes[1])
        observer = Observer()
        try:
            with pytest.raises(errors.ServiceUnavailable):
                await read(
                    nodes,
                    version_id,
                    len(body),
                    0,
                    99,
                    hedge=short_hedge(),
                    unknown=frozenset({2}),
                    observer=observer,
                )
        finally:
            hung.release.set()
        assert observer.hedges == 1
        assert sorted(observer.failures) == [(1, "slow"), (2, "node unknown")]
