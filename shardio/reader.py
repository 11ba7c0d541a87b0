"""Reading the stripes of a version from its shards, tolerating failures.

read_stripe_pieces yields the data of stripes [span.stripe_start,
+stripe_count), in order, each as the pieces it arrived in (joined() makes
each one piece). It opens k reads on the preferred sources (data shards
first: zfec is systematic, so no decoding is needed while they are
healthy). A read that fails, is slow, or delivers a chunk whose CRC32C does
not match is dropped and replaced by the next source, opened at the current
stripe; from then on stripes are decoded from any k chunks. Corrupt bytes
are never yielded: when fewer than k shards can deliver, ServiceUnavailable
is raised. Shards that have not answered a stripe long after their
siblings did (shardio/hedging.py) are hedged: spares are asked too, and
whichever k verified chunks come first serve the stripe. A range inside
one stripe may ask for only some of its data chunks (``columns``): only
their shards are read while they are healthy.

A read of one stripe is one ReadChunks request (ChunksRead), sent over the
node's read stream (proto/call_stream.py) or as a unary call; a longer one
a GetShard stream (ShardStream). Both verify every chunk the same way, and
a node that predates ReadChunks is read with GetShard instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import grpc.aio

from proto import tessera_pb2 as pb
from proto.call_stream import CallFailed
from proto.node_rpc import NodeStub
from proto.wire import Buffer, ChunksAnswer, WireChunk
from shardio.hedging import HedgePolicy
from tessera import errors
from tessera.checksum import crc32c
from tessera.codec import decode_stripe
from tessera.geometry import Geometry, StripeSpan

log = logging.getLogger(__name__)

# A shard that takes longer than this for one chunk is replaced by a spare: a
# hung node costs a read this, not the failure-detection grace period.
SLOW_CHUNK_SECONDS = 3.0
# Reads of at most this many stripes are one ReadChunks call, not a stream
# (docs/benchmarks.md, "Fewer gRPC calls"): the wait for them is the one
# for a single chunk, SLOW_CHUNK_SECONDS.
UNARY_READ_STRIPES_MAX = 1


@dataclass(frozen=True)
class ShardSource:
    shard_index: int
    stub: NodeStub | None  # None: the node is unknown (the shard is unreachable)
    label: str  # for logs: the node id or address


class ReadObserver(Protocol):
    def checksum_failure(self) -> None: ...

    def degraded_stripe(self) -> None: ...

    def chunks_read(self, count: int) -> None: ...

    def shard_failure(self, source: ShardSource, reason: str) -> None: ...

    def hedged(self, count: int) -> None:
        """count spare shards were asked after the hedge wait."""

    def straggler_dropped(self, source: ShardSource) -> None:
        """A stripe was served without source's chunk, still unanswered."""


class ShardReadError(Exception):
    """One shard could not deliver a verified chunk."""


def _verified(msg: WireChunk, stripe_index: int, observer: ReadObserver) -> Buffer:
    """The data of a received chunk (a view into the received message), if
    it is the stripe expected and its CRC32C matches; else ShardReadError."""
    if msg.stripe_index != stripe_index:
        raise ShardReadError("out of order")
    data = msg.data
    if crc32c(data) != msg.crc32c:
        observer.checksum_failure()
        raise ShardReadError("checksum mismatch")
    return data


class ShardRead(Protocol):
    """Reads verified chunks of one shard, one stripe after another."""

    source: ShardSource

    async def read(self) -> Buffer: ...

    def cancel(self) -> None: ...


class ShardStream:
    """A GetShard call over a run of stripes, yielding verified chunks."""

    def __init__(
        self,
        source: ShardSource,
        version_id: str,
        stripe_start: int,
        stripe_count: int,
        call_metadata: tuple[tuple[str, str], ...],
        timeout_seconds: float,
        observer: ReadObserver,
    ) -> None:
        self.source = source
        self._next_stripe = stripe_start
        self._observer = observer
        self._call = None
        if source.stub is not None:
            self._call = source.stub.GetShard(
                pb.GetShardRequest(
                    version_id=version_id,
                    shard_index=source.shard_index,
                    stripe_start=stripe_start,
                    stripe_count=stripe_count,
                ),
                timeout=timeout_seconds,
                metadata=call_metadata,
            )

    async def read(self) -> Buffer:
        if self._call is None:
            raise ShardReadError("node unknown")
        try:
            msg = await asyncio.wait_for(self._call.read(), SLOW_CHUNK_SECONDS)
        except TimeoutError as exc:
            raise ShardReadError("slow") from exc
        except grpc.aio.AioRpcError as exc:
            raise ShardReadError(exc.code().name) from exc
        if msg is grpc.aio.EOF:  # type: ignore[attr-defined]
            raise ShardReadError("ended early")
        assert isinstance(msg, WireChunk)
        data = _verified(msg, self._next_stripe, self._observer)
        self._next_stripe += 1
        return data

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()


class ChunksRead:
    """A ReadChunks request over a short run of stripes (one message),
    yielding verified chunks as ShardStream does. Sent over the node's read
    stream (proto/call_stream.py) when streams are on and the node serves
    it; else as a unary ReadChunks call; a node without ReadChunks
    (one that predates it) is read with a GetShard stream instead."""

    def __init__(
        self,
        source: ShardSource,
        version_id: str,
        stripe_start: int,
        stripe_count: int,
        call_metadata: tuple[tuple[str, str], ...],
        timeout_seconds: float,
        observer: ReadObserver,
    ) -> None:
        self.source = source
        self._version_id = version_id
        self._stripe_start = stripe_start
        self._stripe_count = stripe_count
        self._next_stripe = stripe_start
        self._metadata = call_metadata
        self._deadline = asyncio.get_running_loop().time() + timeout_seconds
        self._observer = observer
        self._chunks: list[WireChunk] | None = None
        self._fallback: ShardStream | None = None
        self._request = pb.ReadChunksRequest(
            version_id=version_id,
            shard_index=source.shard_index,
            stripe_start=stripe_start,
            stripe_count=stripe_count,
        )
        self._call: asyncio.Future[ChunksAnswer] | grpc.aio.UnaryUnaryCall | None = None
        self._streamed = False
        if source.stub is not None:
            stream = source.stub.read_stream
            if stream.usable:
                self._call = stream.call(self._request, call_metadata)
                self._streamed = True
            else:
                self._call = self._unary_call()

    def _unary_call(self) -> grpc.aio.UnaryUnaryCall:
        assert self.source.stub is not None
        return self.source.stub.ReadChunks(
            self._request, timeout=self._remaining_seconds(), metadata=self._metadata
        )

    def _remaining_seconds(self) -> float:
        return max(0.001, self._deadline - asyncio.get_running_loop().time())

    async def read(self) -> Buffer:
        if self._fallback is not None:
            return await self._fallback.read()
        if self._call is None:
            raise ShardReadError("node unknown")
        if self._chunks is None:
            try:
                response = await self._answer()
            except TimeoutError as exc:
                raise ShardReadError("slow") from exc
            except (grpc.aio.AioRpcError, CallFailed) as exc:
                code = exc.code if isinstance(exc, CallFailed) else exc.code()
                if code != grpc.StatusCode.UNIMPLEMENTED:
                    raise ShardReadError(code.name) from exc
                if self._streamed:  # a node without the stream: ask with a call
                    self._streamed = False
                    self._call = self._unary_call()
                    return await self.read()
                self._fallback = self._stream()
                return await self._fallback.read()
            self._chunks = response.chunks
        position = self._next_stripe - self._stripe_start
        if position >= len(self._chunks):
            raise ShardReadError("ended early")
        data = _verified(self._chunks[position], self._next_stripe, self._observer)
        self._next_stripe += 1
        return data

    async def _answer(self) -> ChunksAnswer:
        """The answer, within SLOW_CHUNK_SECONDS and the read's deadline (a
        streamed read has no deadline of its own; a unary call has)."""
        assert self._call is not None
        wait = SLOW_CHUNK_SECONDS
        if self._streamed:
            wait = min(wait, self._remaining_seconds())
        response = await asyncio.wait_for(self._call, wait)  # a timeout cancels it
        assert isinstance(response, ChunksAnswer)
        return response

    def _stream(self) -> ShardStream:
        """A GetShard stream over the same stripes, within the same deadline."""
        return ShardStream(
            self.source,
            self._version_id,
            self._stripe_start,
            self._stripe_count,
            self._metadata,
            self._remaining_seconds(),
            self._observer,
        )

    def cancel(self) -> None:
        if self._fallback is not None:
            self._fallback.cancel()
        if self._call is not None:
            self._call.cancel()


def open_read(
    source: ShardSource,
    version_id: str,
    stripe_start: int,
    stripe_count: int,
    call_metadata: tuple[tuple[str, str], ...],
    timeout_seconds: float,
    observer: ReadObserver,
) -> ShardRead:
    """A read of stripe_count stripes from stripe_start: one ReadChunks call
    for a short run, a GetShard stream for a longer one."""
    kind: type[ChunksRead] | type[ShardStream] = (
        ChunksRead if stripe_count <= UNARY_READ_STRIPES_MAX else ShardStream
    )
    return kind(
        source, version_id, stripe_start, stripe_count, call_metadata, timeout_seconds, observer
    )


async def joined(stripes: AsyncGenerator[list[Buffer], None]) -> AsyncGenerator[bytes, None]:
    """Each stripe of read_stripe_pieces in one piece, for a caller that
    needs it whole (a rebuild encoding it again)."""
    try:
        async for pieces in stripes:
            if len(pieces) == 1 and isinstance(pieces[0], bytes):
                yield pieces[0]
            else:
                yield b"".join(pieces)
    finally:
        await stripes.aclose()


async def read_stripe_pieces(
    *,
    sources: Sequence[ShardSource],
    version_id: str,
    geometry: Geometry,
    size_bytes: int,
    span: StripeSpan,
    executor: Executor,
    call_metadata: tuple[tuple[str, str], ...],
    timeout_seconds: Callable[[], float],
    observer: ReadObserver,
    columns: range | None = None,
    hedge: HedgePolicy | None = None,
) -> AsyncGenerator[list[Buffer], None]:
    """Yields each stripe's data as the pieces it arrived in: the verified
    chunks (views into the received messages, the last cut at the end of the
    data), or one decoded piece for a degraded stripe. Nothing is copied, so a
    caller that sends them on (the gateway's GET) touches no byte; one that
    needs the stripe whole joins them (joined). Sources in order of
    preference.

    columns: for a span of one stripe, only these data chunks are needed (a
    small range): only their shards are read, and what is yielded is the
    stripe's data from offset ``columns.start * chunk length`` through the end
    of the last column. A column that cannot be read makes it a whole-stripe
    read after all (k chunks, decoded), cut to the same bytes.

    hedge: when given, shards that have not answered a stripe within its
    wait are hedged with spares (shardio/hedging.py); columns reads are not
    hedged.
    """
    k = geometry.data_shards
    end = span.stripe_start + span.stripe_count
    spares = list(sources)
    active: dict[int, ShardRead] = {}

    def open_streams(count: int, stripe: int, among: range | None = None) -> dict[int, ShardRead]:
        opened: dict[int, ShardRead] = {}
        for source in list(spares):
            if len(opened) == count:
                break
            if among is not None and source.shard_index not in among:
                continue
            spares.remove(source)
            opened[source.shard_index] = open_read(
                source,
                version_id,
                stripe,
                end - stripe,
                call_metadata,
                timeout_seconds(),
                observer,
            )
        active.update(opened)
        return opened

    if columns is not None:
        assert span.stripe_count == 1 and 0 <= columns.start < columns.stop <= k, columns
    # Read only the needed chunks if each is among the k sources a whole read
    # would try first; one that is not (its node is down, or it has no
    # source) would only be waited on: read the stripe, and cut it the same.
    first_choices = {s.shard_index for s in spares[:k]}
    only: range | None = None
    if columns is not None and all(i in first_choices for i in columns):
        only = columns
    loop = asyncio.get_running_loop()
    try:
        if only is not None:
            open_streams(len(only), span.stripe_start, among=only)
        else:
            open_streams(k, span.stripe_start)
        for stripe in range(span.stripe_start, end):
            chunks = await _stripe_chunks(
                stripe, k, only, active, open_streams, hedge if only is None else None, observer
            )
            observer.chunks_read(len(chunks))
            data_bytes = geometry.stripe_data_bytes(size_bytes, stripe)
            chunk_bytes = geometry.chunk_bytes_for(data_bytes)
            if only is not None and _has(chunks, only):
                yield _cut([chunks[i] for i in only], data_bytes - only.start * chunk_bytes)
                continue
            if all(i in chunks for i in range(k)):
                yield _cut([chunks[i] for i in range(k)], data_bytes)
                continue
            observer.degraded_stripe()
            data = await loop.run_in_executor(executor, decode_stripe, chunks, geometry, data_bytes)
            if columns is not None:
                data = data[columns.start * chunk_bytes : columns.stop * chunk_bytes]
            yield [data]
    finally:
        for stream in active.values():
            stream.cancel()


async def _stripe_chunks(
    stripe: int,
    k: int,
    only: range | None,
    active: dict[int, ShardRead],
    open_streams: Callable[[int, int], dict[int, ShardRead]],
    hedge: HedgePolicy | None,
    observer: ReadObserver,
) -> dict[int, Buffer]:
    """The verified chunks of one stripe (by shard index): k of them, or
    only's when only is set and they all came. Reads the active shards; one
    that fails is dropped and replaced by a spare at once (and a read of only
    some columns becomes a read of k); when some have not answered within
    hedge's wait, as many spares are asked too, once, and whichever shards
    are still unanswered when enough chunks are in are dropped. Leaves in
    active the reads that delivered, at most k, for the next stripe."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    chunks: dict[int, Buffer] = {}
    tasks = {asyncio.create_task(read.read()): i for i, read in active.items()}
    wanted = len(only) if only is not None else k
    spares_asked: set[int] | None = None  # after the hedge: which were asked
    answered_after: float | None = None
    try:
        while not (len(chunks) >= k or (only is not None and _has(chunks, only))):
            if wanted - len(chunks) > len(tasks):  # a read failed: replace it now
                wanted = k
                _ask(open_streams(k - len(chunks) - len(tasks), stripe), tasks)
                if not tasks:
                    raise errors.ServiceUnavailable(
                        f"only {len(chunks)} of the {k} shards needed are readable"
                    )
            wait = None  # no hedge to come: wait for the next answer
            if hedge is not None and spares_asked is None:
                wait = hedge.wait_seconds(answered_after)
            timeout = None if wait is None else max(0.0, started + wait - loop.time())
            done, _ = await asyncio.wait(
                tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:  # the stragglers are late: ask spares too
                spares = open_streams(len(tasks), stripe)
                spares_asked = set(spares)
                if spares:
                    observer.hedged(len(spares))
                    _ask(spares, tasks)
                continue
            for task in done:
                i = tasks.pop(task)
                failure = task.exception()
                if failure is None:
                    chunks[i] = task.result()
                    answered_after = loop.time() - started
                elif isinstance(failure, ShardReadError):
                    observer.shard_failure(active[i].source, str(failure))
                    active.pop(i).cancel()
                else:
                    raise failure
    finally:
        for task, i in tasks.items():  # unanswered (or a failure's leftovers)
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: the read is dropped either way
            read = active.pop(i)
            read.cancel()
            if len(chunks) >= k and spares_asked is not None and i not in spares_asked:
                observer.straggler_dropped(read.source)
    for i in sorted(active)[k:]:  # a spare and its straggler both answered
        active.pop(i).cancel()
    return chunks


def _ask(reads: dict[int, ShardRead], tasks: dict[asyncio.Task[Buffer], int]) -> None:
    for i, read in reads.items():
        tasks[asyncio.create_task(read.read())] = i


def _has(chunks: dict[int, Buffer], columns: range) -> bool:
    return all(i in chunks for i in columns)


def _cut(pieces: list[Buffer], length: int) -> list[Buffer]:
    """pieces up to length bytes in all (views: nothing is copied); the
    padding that fills a stripe's last chunk is dropped."""
    out: list[Buffer] = []
    for piece in pieces:
        if length <= 0:
            break
        if len(piece) > length:
            piece = memoryview(piece)[:length]
        out.append(piece)
        length -= len(piece)
    return out
