"""The Node gRPC servicer: PutShard, PutWholeShard, PutWholeShardStream and
PutWholeShardPacked, GetShard, ReadChunks, ReadChunksStream and
ReadChunksPacked, DeleteShard and DeleteShards,
NodeStatus, ListShards and RebuildShard.

Protobuf stays here, at the edge: messages become ShardMeta and plain bytes
before they reach the store. The chunk-carrying methods' messages are
encoded and decoded by proto/wire.py (registered by proto/node_rpc.py): a
received chunk's data is a view into the message gRPC handed over, and an
answer's chunks are joined into it once. Every store call that may wait for
the disk runs in the bounded executor the servicer is given, one chunk at a
time, so the event loop never blocks and a shard is never held in memory
whole. Reads (ReadChunks, GetShard's chunks) first try the page cache on the
loop (node/page_cache.py: openat2 RESOLVE_CACHED and preadv2 RWF_NOWAIT, at
most 2 MiB at once) and go to the executor only when something is not
cached.

Invariants:
- PutShard answers only after the store's commit (file and folder fsynced);
  any other ending (an error, a bad checksum, no Finish, a cancelled call)
  discards the temp file and stores nothing. A stream is a header, chunks in
  stripe order and a Finish, or one WholeShard (a one-stripe shard: header,
  chunk and Finish in one message, written in one executor job).
  PutWholeShard is that one WholeShard as a unary call, with the same
  commit before the answer, and PutWholeShardStream many of them over one
  call, each answered only after its commit (PutWholeShardPacked: the
  same, several requests and answers a message);
- GetShard sends only chunks the store verified, with their CRC32C so the
  gateway verifies them again end to end; a corrupt chunk ends the stream with
  DATA_LOSS, and the shard is quarantined (moved aside, never deleted) and
  reported to metadata for repair. ReadChunks (a short range in one message)
  verifies every chunk before answering; a corrupt one fails the call with
  DATA_LOSS and quarantines and reports the shard the same way.
  ReadChunksStream serves many such reads over one call: each answer is
  what ReadChunks would have answered, chunks or status, under the
  request's id (ReadChunksPacked: the same, several a message);
- the trailer of Finish (and of RebuildShard) is written into the shard
  before it is made durable; ListShards returns trailers only when asked,
  and lists a shard whose trailer block is damaged without one;
- each StoreError class maps to one gRPC status (STATUS_FOR).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
import grpc.aio
from prometheus_client import Histogram

from node import metrics
from node.errors import (
    ChecksumMismatch,
    ChunkCorrupt,
    InvalidShard,
    RangeNotSatisfiable,
    ShardCorrupt,
    ShardNotFound,
    StoreError,
)
from node.page_cache import CACHED_READ_MAX_BYTES, NotCached
from node.rebuild import rebuild_shard
from node.reports import ProblemReporter
from node.shard_format import ShardMeta, validate
from node.store import ShardReader, ShardStore, ShardWriter
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.call_stream import Packer, answer_each
from proto.node_rpc import READ_ANSWERS, WRITE_ANSWERS
from proto.wire import (
    Buffer,
    ChunksAnswer,
    PutChunk,
    StreamAnswer,
    WholeShardMessage,
    WireChunk,
    whole_from_pb,
)
from tessera import limits
from tessera.errors import TesseraError

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Req = TypeVar("Req")
Ans = TypeVar("Ans")
Out = TypeVar("Out")
Message = TypeVar("Message")
Context = grpc.aio.ServicerContext[Any, Any]

STATUS_FOR: dict[type[StoreError], grpc.StatusCode] = {
    StoreError: grpc.StatusCode.INTERNAL,
    ShardNotFound: grpc.StatusCode.NOT_FOUND,
    InvalidShard: grpc.StatusCode.INVALID_ARGUMENT,
    RangeNotSatisfiable: grpc.StatusCode.OUT_OF_RANGE,
    ChecksumMismatch: grpc.StatusCode.DATA_LOSS,
    ShardCorrupt: grpc.StatusCode.DATA_LOSS,
    ChunkCorrupt: grpc.StatusCode.DATA_LOSS,
}

_NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def status_for(error: StoreError) -> grpc.StatusCode:
    """The gRPC status a store error ends a call with (its nearest mapped class)."""
    for cls in type(error).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]
    raise AssertionError(f"unmapped store error {type(error)}")


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """What NodeStatus reports besides usage."""

    node_id: str
    zone: str
    capacity_bytes: int


def meta_from_pb(header: pb.ShardHeader) -> ShardMeta:
    return ShardMeta(
        bucket=header.bucket,
        key=header.key,
        version_id=header.version_id,
        shard_index=header.shard_index,
        data_shards=header.data_shards,
        parity_shards=header.parity_shards,
        chunk_size_bytes=header.chunk_size_bytes,
        object_size_bytes=header.object_size_bytes,
        stripe_count=header.stripe_count,
    )


def meta_to_pb(meta: ShardMeta) -> pb.ShardHeader:
    return pb.ShardHeader(
        bucket=meta.bucket,
        key=meta.key,
        version_id=meta.version_id,
        shard_index=meta.shard_index,
        data_shards=meta.data_shards,
        parity_shards=meta.parity_shards,
        chunk_size_bytes=meta.chunk_size_bytes,
        object_size_bytes=meta.object_size_bytes,
        stripe_count=meta.stripe_count,
    )


REBUILD_TIMEOUT_DEFAULT_SECONDS = 600.0


class NodeServicer(pb_grpc.NodeServicer):
    """Serves one ShardStore; store calls that may wait for the disk run in
    executor (bounded, owned by the caller), page-cache reads on the loop."""

    def __init__(
        self,
        store: ShardStore,
        executor: Executor,
        identity: NodeIdentity,
        secret: str = "",
        reporter: ProblemReporter | None = None,
        closing: asyncio.Event | None = None,
    ) -> None:
        """closing: set when the node starts to stop; its streams of calls
        then take no new request and end once the ones taken are answered."""
        self._store = store
        self._executor = executor
        self._identity = identity
        self._secret = secret  # for calls to peers when rebuilding
        self._reporter = reporter
        self.closing = closing if closing is not None else asyncio.Event()

    async def PutShard(
        self, request_iterator: AsyncIterator[PutChunk | pb.PutShardRequest], context: Context
    ) -> pb.PutShardResponse:
        put = _timed_put(self._put(request_iterator), metrics.PUT_SHARD_SECONDS)
        return await _or_abort(put, context)

    async def GetShard(
        self, request: pb.GetShardRequest, context: Context
    ) -> AsyncIterator[WireChunk]:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        reader: ShardReader | None = None
        pending: asyncio.Future[tuple[memoryview, int]] | None = None
        try:
            open_ = functools.partial(
                self._store.open_reader, request.version_id, request.shard_index
            )
            try:
                reader = open_(cached_only=True)
            except NotCached:
                reader = await self._acquire(open_, ShardReader.close)
            stripes = reader.stripe_range(request.stripe_start, request.stripe_count)
            for stripe_index in stripes:
                # Read one chunk ahead, so the disk works while the network sends.
                if pending is None:
                    pending = self._read_ahead(reader, stripe_index)
                data, chunk_crc = await pending
                pending = None
                if stripe_index + 1 < stripes.stop:
                    pending = self._read_ahead(reader, stripe_index + 1)
                yield WireChunk(stripe_index, data, chunk_crc)
                metrics.READ_BYTES.inc(len(data))
            metrics.SHARDS_READ.inc()
        except (asyncio.CancelledError, GeneratorExit):
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            code = _status_of(exc)
            if isinstance(exc, ShardCorrupt):
                await self._quarantine(request.version_id, request.shard_index)
            await _abort(context, exc, code)
        finally:
            if pending is not None:
                _forget(pending)
            if reader is not None:
                await self._finally(reader.close)
            metrics.GET_SHARD_SECONDS.labels(code=code.name).observe(time.perf_counter() - started)

    async def DeleteShard(
        self, request: pb.DeleteShardRequest, context: Context
    ) -> pb.DeleteShardResponse:
        try:
            existed = await self._run(
                self._store.delete,
                request.version_id,
                request.shard_index,
                request.modified_before,
            )
        except Exception as exc:
            await _abort(context, exc, _status_of(exc))
        if existed:
            metrics.SHARDS_DELETED.inc()
        return pb.DeleteShardResponse(existed=existed)

    async def DeleteShards(
        self, request: pb.DeleteShardsRequest, context: Context
    ) -> pb.DeleteShardsResponse:
        shards = [(s.version_id, s.shard_index, s.modified_before) for s in request.shards]
        try:
            existed = await self._run(self._store.delete_many, shards)
        except Exception as exc:
            await _abort(context, exc, _status_of(exc))
        metrics.SHARDS_DELETED.inc(sum(existed))
        return pb.DeleteShardsResponse(existed=existed)

    async def NodeStatus(
        self, request: pb.NodeStatusRequest, context: Context
    ) -> pb.NodeStatusResponse:
        return pb.NodeStatusResponse(
            node_id=self._identity.node_id,
            zone=self._identity.zone,
            capacity_bytes=self._identity.capacity_bytes,
            used_bytes=self._store.used_bytes,
            shard_count=self._store.shard_count,
        )

    async def ListShards(
        self, request: pb.ListShardsRequest, context: Context
    ) -> AsyncIterator[pb.ShardHeader]:
        ids = await self._run(lambda: list(self._store.shard_ids()))
        for version_id, shard_index in ids:
            trailer = b""
            try:
                meta = await self._run(self._store.read_meta, version_id, shard_index)
                if request.with_trailer:
                    trailer = await self._trailer(version_id, shard_index)
                modified_at = await self._run(self._store.modified_at, version_id, shard_index)
            except StoreError:
                continue  # removed or quarantined meanwhile; corrupt ones are the scrubber's
            header = meta_to_pb(meta)
            header.modified_at = modified_at
            header.trailer = trailer
            yield header

    async def RebuildShard(
        self, request: pb.RebuildShardRequest, context: Context
    ) -> pb.RebuildShardResponse:
        try:
            stored, read = await rebuild_shard(
                store=self._store,
                executor=self._executor,
                meta=meta_from_pb(request.header),
                sources=[(s.shard_index, s.address) for s in request.sources],
                secret=self._secret,
                timeout_seconds=request.timeout_seconds or REBUILD_TIMEOUT_DEFAULT_SECONDS,
                trailer=request.trailer,
            )
        except TesseraError as exc:  # not enough readable sources
            await context.abort(grpc.StatusCode.UNAVAILABLE, exc.message)
        except Exception as exc:
            await _abort(context, exc, _status_of(exc))
        return pb.RebuildShardResponse(stored_bytes=stored, read_bytes=read)

    async def PutWholeShard(
        self, request: WholeShardMessage, context: Context
    ) -> pb.PutShardResponse:
        put = _timed_put(self._put_whole(request), metrics.PUT_WHOLE_SHARD_SECONDS)
        return await _or_abort(put, context)

    async def PutWholeShardStream(
        self, requests: AsyncIterator[tuple[int, WholeShardMessage]], context: Context
    ) -> AsyncIterator[pb.PutWholeShardStreamAnswer]:
        """Each request is written as PutWholeShard writes it, concurrently
        with the others; each answer is sent once its shard is durable (or
        with the status PutWholeShard would have failed with)."""

        def write(whole: WholeShardMessage) -> Awaitable[pb.PutShardResponse]:
            return _timed_put(self._put_whole(whole), metrics.PUT_WHOLE_SHARD_SECONDS)

        answers = _answer_each(requests, lambda item: item, write, _put_answer, self.closing)
        async for answer in answers:
            yield answer

    async def PutWholeShardPacked(
        self, messages: AsyncIterator[list[tuple[int, WholeShardMessage]]], context: Context
    ) -> AsyncIterator[pb.PutWholeShardPackedAnswers]:
        """PutWholeShardStream with every request of a message taken, and
        every answer ready when a message goes out sent in it."""

        def write(whole: WholeShardMessage) -> Awaitable[pb.PutShardResponse]:
            return _timed_put(self._put_whole(whole), metrics.PUT_WHOLE_SHARD_SECONDS)

        requests = _each(messages, lambda items: items)
        answers = _answer_each(
            requests, lambda item: item, write, _put_answer, self.closing, WRITE_ANSWERS
        )
        async for answer in answers:
            yield answer

    async def ReadChunks(self, request: pb.ReadChunksRequest, context: Context) -> ChunksAnswer:
        return await _or_abort(self._serve_read(request), context)

    async def ReadChunksStream(
        self, requests: AsyncIterator[pb.ReadChunksStreamRequest], context: Context
    ) -> AsyncIterator[StreamAnswer[ChunksAnswer]]:
        """Each request is served as ReadChunks would serve it, concurrently
        with the others; each answer (chunks, or the status ReadChunks would
        have failed with) is sent when it is ready."""

        def split(item: pb.ReadChunksStreamRequest) -> tuple[int, pb.ReadChunksRequest]:
            return item.id, item.read

        answers = _answer_each(requests, split, self._serve_read, StreamAnswer, self.closing)
        async for answer in answers:
            yield answer

    async def ReadChunksPacked(
        self, messages: AsyncIterator[pb.ReadChunksPackedRequests], context: Context
    ) -> AsyncIterator[list[StreamAnswer[ChunksAnswer]]]:
        """ReadChunksStream with every request of a message taken, and every
        answer ready when a message goes out sent in it."""

        def split(item: pb.ReadChunksStreamRequest) -> tuple[int, pb.ReadChunksRequest]:
            return item.id, item.read

        requests = _each(messages, lambda message: message.reads)
        answers = _answer_each(
            requests, split, self._serve_read, StreamAnswer, self.closing, READ_ANSWERS
        )
        async for answer in answers:
            yield answer

    async def _serve_read(self, request: pb.ReadChunksRequest) -> ChunksAnswer:
        """The verified chunks a ReadChunks request asks for: from the page
        cache on the loop when all of it is there, else read in the executor.
        A corrupt shard is quarantined and reported before the error is
        raised."""
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        read = functools.partial(
            _read_chunks,
            self._store,
            request.version_id,
            request.shard_index,
            request.stripe_start,
            request.stripe_count,
        )
        try:
            try:
                chunks = read(cached_only=True)  # on the loop: never waits for the disk
                metrics.READS_FROM_CACHE.labels(served="loop").inc()
            except NotCached:
                chunks = await self._run(read)
                metrics.READS_FROM_CACHE.labels(served="executor").inc()
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            code = _status_of(exc)
            if isinstance(exc, ShardCorrupt):
                await self._quarantine(request.version_id, request.shard_index)
            raise
        finally:
            metrics.READ_CHUNKS_SECONDS.labels(code=code.name).observe(
                time.perf_counter() - started
            )
        metrics.READ_BYTES.inc(sum(len(data) for data, _ in chunks))
        metrics.SHARDS_READ.inc()
        return ChunksAnswer(
            [
                WireChunk(stripe_index, data, chunk_crc)
                for stripe_index, (data, chunk_crc) in enumerate(chunks, start=request.stripe_start)
            ]
        )

    async def _trailer(self, version_id: str, shard_index: int) -> bytes:
        """A shard's trailer; b"" when its trailer block is damaged (the shard
        is still listed: its chunks are checked on their own, and the
        scrubber quarantines it)."""
        try:
            return (await self._run(self._store.read_trailer, version_id, shard_index))[1]
        except ShardCorrupt as exc:
            log.warning("listing %s.%d without its trailer: %s", version_id, shard_index, exc)
            return b""

    async def _quarantine(self, version_id: str, shard_index: int) -> None:
        """A read met a corrupt shard: move it aside and queue its repair."""
        try:
            moved = await self._run(self._store.quarantine, version_id, shard_index)
        except (OSError, StoreError) as exc:
            log.error("could not quarantine %s.%d: %s", version_id, shard_index, exc)
            return
        if moved is not None and self._reporter is not None:
            self._reporter.report_nowait(version_id, shard_index)

    async def _put(self, requests: AsyncIterator[PutChunk | pb.PutShardRequest]) -> int:
        meta: ShardMeta | None = None
        writer: ShardWriter | None = None
        try:
            async for request in requests:
                kind = "chunk" if isinstance(request, PutChunk) else request.WhichOneof("item")
                if meta is None:
                    if kind == "whole":
                        assert isinstance(request, pb.PutShardRequest)
                        return await self._put_whole(whole_from_pb(request.whole))
                    if kind != "header":
                        raise InvalidShard(f"first message is {kind}, not a header")
                    assert isinstance(request, pb.PutShardRequest)
                    meta = meta_from_pb(request.header)
                    validate(meta)  # a bad header fails before any file exists
                elif isinstance(request, PutChunk):
                    chunk = request.chunk
                    data = chunk.data  # a view into the received message (proto/wire.py)
                    if writer is None:
                        # The temp file is created with the first chunk: one
                        # executor job, not two, for a one-stripe shard.
                        writer = await self._acquire(
                            functools.partial(
                                _begin_with_chunk,
                                self._store,
                                meta,
                                chunk.stripe_index,
                                data,
                                chunk.crc32c,
                            ),
                            ShardWriter.abort,
                        )
                    else:
                        await self._run(writer.append, chunk.stripe_index, data, chunk.crc32c)
                    metrics.WRITTEN_BYTES.inc(len(data))
                elif kind == "finish":
                    assert isinstance(request, pb.PutShardRequest)
                    if writer is None:  # a shard of no stripes
                        writer = await self._acquire(
                            functools.partial(self._store.begin_write, meta), ShardWriter.abort
                        )
                    # Commit on Finish without waiting for the client to half-close.
                    finish = request.finish
                    stored_bytes = await self._run(
                        writer.commit, finish.chunk_count, finish.trailer
                    )
                    writer = None
                    metrics.SHARDS_WRITTEN.inc()
                    return stored_bytes
                else:
                    raise InvalidShard(f"unexpected {kind} message")
            raise InvalidShard(
                "stream ended without a header" if meta is None else "stream ended without Finish"
            )
        finally:
            if writer is not None:
                await self._finally(writer.abort)

    async def _put_whole(self, whole: WholeShardMessage) -> int:
        """A one-stripe shard in one message: create, write, commit in one
        executor job. It is complete (its Finish included), so whatever
        follows on the stream is not read."""
        meta = meta_from_pb(whole.header)
        validate(meta)
        if meta.stripe_count != 1:
            raise InvalidShard(f"a whole-shard message for a {meta.stripe_count}-stripe shard")
        chunk = whole.chunk
        data = chunk.data
        stored_bytes = await self._run(
            _write_whole,
            self._store,
            meta,
            chunk.stripe_index,
            data,
            chunk.crc32c,
            bytes(whole.trailer),
        )
        metrics.WRITTEN_BYTES.inc(len(data))
        metrics.SHARDS_WRITTEN.inc()
        return stored_bytes

    def _read_ahead(
        self, reader: ShardReader, stripe_index: int
    ) -> asyncio.Future[tuple[memoryview, int]]:
        """One chunk: read now on the loop when it is all in the page cache,
        else in the executor. Either way its outcome (a corrupt chunk too)
        comes out of the future, when the chunk before it has been sent."""
        read: asyncio.Future[tuple[memoryview, int]] = asyncio.get_running_loop().create_future()
        try:
            read.set_result(reader.read_chunk(stripe_index, cached_only=True))
        except NotCached:
            metrics.READS_FROM_CACHE.labels(served="executor").inc()
            return self._submit(reader.read_chunk, stripe_index)
        except Exception as exc:
            read.set_exception(exc)
        metrics.READS_FROM_CACHE.labels(served="loop").inc()
        return read

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._submit(fn, *args)

    def _submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def _acquire(self, open_: Callable[[], T], release: Callable[[T], None]) -> T:
        """Runs open_ in the executor and returns what it opened. If this call
        is cancelled meanwhile, open_ still completes in its thread; what it
        opened is then released there, so no temp file or descriptor leaks."""
        future = self._submit(open_)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:

            def release_when_opened(done: asyncio.Future[T]) -> None:
                if not done.cancelled() and done.exception() is None:
                    self._executor.submit(release, done.result())

            future.add_done_callback(release_when_opened)
            raise

    async def _finally(self, cleanup: Callable[[], None]) -> None:
        """Runs a cleanup in the executor; it completes even if this call is
        cancelled again while waiting (the writer or reader lock orders it
        after any call still running in a thread)."""
        await asyncio.shield(self._submit(cleanup))


def _begin_with_chunk(
    store: ShardStore, meta: ShardMeta, stripe_index: int, data: Buffer, chunk_crc32c: int
) -> ShardWriter:
    """Starts a shard and writes its first chunk (in one executor job); on any
    failure nothing is left behind."""
    writer = store.begin_write(meta)
    try:
        writer.append(stripe_index, data, chunk_crc32c)
    except BaseException:
        writer.abort()
        raise
    return writer


def _write_whole(
    store: ShardStore,
    meta: ShardMeta,
    stripe_index: int,
    data: Buffer,
    chunk_crc32c: int,
    trailer: bytes,
) -> int:
    """Writes and commits a one-stripe shard with its trailer (in one executor
    job); a failure leaves nothing behind (append and commit discard the
    writer)."""
    writer = _begin_with_chunk(store, meta, stripe_index, data, chunk_crc32c)
    with writer:  # aborts unless committed
        return writer.commit(1, trailer)


def _read_chunks(
    store: ShardStore,
    version_id: str,
    shard_index: int,
    stripe_start: int,
    stripe_count: int,
    cached_only: bool = False,
) -> list[tuple[memoryview, int]]:
    """The verified chunks (data, crc32c) of a short stripe range, read in one
    go: open, read, close. Raises InvalidShard for a range of no stripes or
    of more than READ_CHUNKS_MAX_BYTES (GetShard streams those),
    RangeNotSatisfiable outside the shard, ChunkCorrupt for a damaged chunk.
    cached_only: NotCached unless every byte is in the page cache (then it
    may run on the event loop); otherwise it runs in the executor."""
    if stripe_count < 1:
        raise InvalidShard("ReadChunks needs a stripe count of at least 1")
    with store.open_reader(version_id, shard_index, cached_only) as reader:
        stripes = reader.stripe_range(stripe_start, stripe_count)
        meta = reader.meta
        # Every chunk but the shard's last is chunk_size_bytes long.
        last = stripes[-1]
        total_bytes = (len(stripes) - 1) * meta.chunk_size_bytes + meta.chunk_length_bytes(last)
        if total_bytes > limits.READ_CHUNKS_MAX_BYTES:
            raise InvalidShard(
                f"{total_bytes} bytes of chunks in one ReadChunks answer "
                f"(at most {limits.READ_CHUNKS_MAX_BYTES}): use GetShard"
            )
        if cached_only and total_bytes > CACHED_READ_MAX_BYTES:
            raise NotCached(f"{total_bytes} bytes are too many to copy on the event loop")
        return [reader.read_chunk(i, cached_only) for i in stripes]


async def _timed_put(put: Coroutine[Any, Any, int], seconds: Histogram) -> pb.PutShardResponse:
    """Runs a shard write, observing its duration under its outcome's status
    code (the failure is raised)."""
    started = time.perf_counter()
    code = grpc.StatusCode.OK
    try:
        stored_bytes = await put
    except asyncio.CancelledError:
        code = grpc.StatusCode.CANCELLED
        raise
    except Exception as exc:
        code = _status_of(exc)
        raise
    finally:
        seconds.labels(code=code.name).observe(time.perf_counter() - started)
    return pb.PutShardResponse(stored_bytes=stored_bytes)


async def _or_abort(work: Awaitable[T], context: Context) -> T:
    """work's result; a failure aborts the call with the status that names it."""
    try:
        return await work
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await _abort(context, exc, _status_of(exc))


def _put_answer(
    call_id: int, answer: pb.PutShardResponse | None, code: int, message: str
) -> pb.PutWholeShardStreamAnswer:
    reply = pb.PutWholeShardStreamAnswer(id=call_id, code=code, message=message)
    if answer is not None:
        reply.answer.CopyFrom(answer)
    return reply


async def _answer_each(
    requests: AsyncIterator[Item],
    split: Callable[[Item], tuple[int, Req]],
    serve: Callable[[Req], Awaitable[Ans]],
    reply: Callable[[int, Ans | None, int, str], Out],
    closing: asyncio.Event,
    packer: Packer | None = None,
) -> AsyncIterator[Any]:
    """The answers of a ...Stream method (docs/erasure-coding.md, "One stream
    of calls per node"): each request, split into its id and what the unary
    method takes, is served by serve (proto.call_stream.answer_each: in a
    task of its own), and its reply (the answer, or the status code and
    message the unary method would have failed with) is yielded as soon as
    it is ready — with a packer, joined with every other reply ready by
    then (a ...Packed method). Once closing is set no new request is taken."""

    async def answer(item: Item) -> Out:
        call_id, request = split(item)
        try:
            return reply(call_id, await serve(request), 0, "")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            code = _status_of(exc)
            _log_failure(exc, code)
            return reply(call_id, None, code.value[0], str(exc) or type(exc).__name__)

    async for out in answer_each(requests, answer, packer, closing=closing):
        yield out


async def _each(
    messages: AsyncIterator[Message], items: Callable[[Message], Iterable[Item]]
) -> AsyncIterator[Item]:
    """The requests of a ...Packed method's messages, one by one."""
    async for message in messages:
        for item in items(message):
            yield item


def _status_of(exc: Exception) -> grpc.StatusCode:
    if isinstance(exc, StoreError):
        return status_for(exc)
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INTERNAL


async def _abort(context: Context, exc: Exception, code: grpc.StatusCode) -> NoReturn:
    _log_failure(exc, code)
    await context.abort(code, str(exc) or type(exc).__name__)


def _log_failure(exc: Exception, code: grpc.StatusCode) -> None:
    if isinstance(exc, ShardCorrupt):
        log.error("corrupt shard (quarantined for repair): %s", exc)
    elif isinstance(exc, ChecksumMismatch):
        log.warning("chunk damaged in flight, shard not stored: %s", exc)
    elif not isinstance(exc, StoreError) and code is grpc.StatusCode.INTERNAL:
        log.exception("shard call failed")


def _forget(future: asyncio.Future[Any]) -> None:
    """Drops a read-ahead that will not be sent, without leaving an
    unretrieved exception behind."""
    if future.done():
        if not future.cancelled():
            future.exception()
    else:
        future.cancel()
