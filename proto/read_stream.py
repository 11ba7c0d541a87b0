"""Many ReadChunks to one node over one long-lived stream (docs/erasure-coding.md,
"One stream of reads per node").

A unary call costs both sides a fixed amount of CPU beyond its message:
the call's set-up and tear-down in gRPC core and grpc.aio, its headers,
the server's handler task and the secret check. A GET of a 1 MiB object
makes four of them. ReadStream sends ReadChunks requests instead as
messages of one ReadChunksStream call per node, each with an id, and
matches the answers, which come in the order the node has them ready, back
to their callers.

ReadStream.read(request, metadata) returns a future of the ChunksAnswer; a
read that fails on the node fails its future with ReadFailed, the status
code and message the unary call would have ended with. When the stream
itself ends (the node went away, the channel closed) every read waiting on
it fails with ReadFailed and the stream's code (UNAVAILABLE when it ended
without one), and the next read opens a new stream. A node that does not
know the method (UNIMPLEMENTED) is not asked again: the caller uses the
unary call.

Invariants:
- a future gets the answer to its own request or an error, never another
  request's answer: ids are never reused within a stream, and a stream's
  waiting reads are failed when it ends;
- cancelling a future (a caller giving up: timeout, cancelled GET) forgets
  it: its answer, if it comes, is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio

from proto import tessera_pb2 as pb
from proto.wire import ChunksAnswer, StreamAnswer

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]


class ReadFailed(Exception):
    """A read answered with an error, or lost with its stream."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(value: int) -> grpc.StatusCode:
    """The grpc.StatusCode of a numeric code (UNKNOWN for one gRPC does not define)."""
    return _CODES.get(value, grpc.StatusCode.UNKNOWN)


class _Stream:
    """One ReadChunksStream call and the reads waiting on it."""

    def __init__(self, open_call: Callable[..., Any], metadata: Metadata) -> None:
        self.outbox: asyncio.Queue[pb.ReadChunksStreamRequest | None] = asyncio.Queue()
        self.waiting: dict[int, asyncio.Future[ChunksAnswer]] = {}
        self.next_id = 1
        self.ended = False
        self.call = open_call(self._requests(), metadata=metadata)

    async def _requests(self) -> AsyncIterator[pb.ReadChunksStreamRequest]:
        while (request := await self.outbox.get()) is not None:
            yield request

    def send(self, request: pb.ReadChunksRequest) -> asyncio.Future[ChunksAnswer]:
        read_id = self.next_id
        self.next_id += 1
        future: asyncio.Future[ChunksAnswer] = asyncio.get_running_loop().create_future()
        self.waiting[read_id] = future
        future.add_done_callback(lambda done: self._forget(read_id, done))
        self.outbox.put_nowait(pb.ReadChunksStreamRequest(id=read_id, read=request))
        return future

    def _forget(self, read_id: int, future: asyncio.Future[ChunksAnswer]) -> None:
        if self.waiting.get(read_id) is future:
            del self.waiting[read_id]

    def answer(self, answer: StreamAnswer) -> None:
        future = self.waiting.pop(answer.id, None)
        if future is None or future.done():
            return  # given up on by its caller
        if answer.code == 0 and answer.answer is not None:
            future.set_result(answer.answer)
        elif answer.code == 0:
            future.set_exception(ReadFailed(grpc.StatusCode.INTERNAL, "an answer without chunks"))
        else:
            future.set_exception(ReadFailed(status_code(answer.code), answer.message))

    def end(self, code: grpc.StatusCode, message: str) -> None:
        self.ended = True
        self.outbox.put_nowait(None)
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ReadFailed(code, message))


class ReadStream:
    """ReadChunks over one stream per (node channel, metadata). Built with
    the stub's ReadChunksStream multi-callable; opens the call on first use,
    inside the event loop."""

    def __init__(self, open_call: Callable[..., Any]) -> None:
        self._open_call = open_call
        self._streams: dict[Metadata, _Stream] = {}
        self._pumps: set[asyncio.Task[None]] = set()
        self.unsupported = False  # the node answered UNIMPLEMENTED

    def read(
        self, request: pb.ReadChunksRequest, metadata: Metadata
    ) -> asyncio.Future[ChunksAnswer]:
        """The answer to one ReadChunks request, as a future (cancel it to
        give up). ReadFailed(UNIMPLEMENTED) once the node is known not to
        serve the stream."""
        if self.unsupported:
            future: asyncio.Future[ChunksAnswer] = asyncio.get_running_loop().create_future()
            future.set_exception(ReadFailed(grpc.StatusCode.UNIMPLEMENTED, "no ReadChunksStream"))
            return future
        stream = self._streams.get(metadata)
        if stream is None or stream.ended:
            stream = _Stream(self._open_call, metadata)
            self._streams[metadata] = stream
            pump = asyncio.ensure_future(self._pump(stream, metadata))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)
        return stream.send(request)

    async def _pump(self, stream: _Stream, metadata: Metadata) -> None:
        """Hands each answer to its read; fails the rest when the stream ends."""
        code, message = grpc.StatusCode.UNAVAILABLE, "the read stream ended"
        try:
            async for answer in stream.call:
                stream.answer(answer)
        except grpc.aio.AioRpcError as exc:
            code, message = exc.code(), exc.details() or code.name
            if code == grpc.StatusCode.UNIMPLEMENTED:
                self.unsupported = True
            elif code != grpc.StatusCode.CANCELLED:
                log.info("read stream ended: %s %s", code.name, message)
        except asyncio.CancelledError:
            code, message = grpc.StatusCode.CANCELLED, "the read stream was cancelled"
            raise
        except Exception as exc:  # a malformed answer (WireError) or a bug: end this stream
            code, message = grpc.StatusCode.INTERNAL, f"read stream: {exc!r}"
            log.warning("read stream failed: %r", exc)
        finally:
            stream.end(code, message)
            stream.call.cancel()
            if self._streams.get(metadata) is stream:
                del self._streams[metadata]

    async def close(self) -> None:
        """Ends every stream (their waiting reads fail with CANCELLED)."""
        for stream in list(self._streams.values()):
            stream.call.cancel()
        for pump in list(self._pumps):
            with contextlib.suppress(asyncio.CancelledError):
                await pump
