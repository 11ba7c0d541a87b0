"""Many unary requests to one server over one long-lived stream
(docs/erasure-coding.md, "One stream of calls per node"; docs/metadata.md,
"One stream of calls per replica").

A unary call costs both sides a fixed amount of CPU beyond its message:
the call's set-up and tear-down in gRPC core and grpc.aio, its headers,
the server's handler task and the secret check. A GET of a 1 MiB object
makes four of them (ReadChunks), a PUT six (PutWholeShard). A CallStream
sends such requests instead as messages of one stream call per node (the
method's ...Stream twin: ReadChunksStream, PutWholeShardStream), each with
an id, and matches the answers, which come in the order the node has them
ready, back to their callers.

CallStream.call(request, metadata) returns a future of the answer; a
request that fails on the node fails its future with CallFailed, the status
code and message the unary call would have ended with. When the stream
itself ends (the node went away, the channel closed) every request waiting
on it fails with CallFailed and the stream's code (UNAVAILABLE when it ended
without one), and the next request opens a new stream. A node that does not
know the method (UNIMPLEMENTED) is not asked again: the caller uses the
unary call. TESSERA_NODE_STREAMS=0 in the environment turns the node streams
off (ENABLED): callers then make unary calls. The metadata client's stream
of calls per replica (proto/metadata_calls.py) is the same machinery with
its own switch.

answer_each is the server's side: it serves each request of a stream in a
task of its own and yields the answers as they are ready.

Invariants:
- a future gets the answer to its own request or an error, never another
  request's answer: ids are never reused within a stream, and a stream's
  waiting requests are failed when it ends;
- cancelling a future (a caller giving up: timeout, cancelled request)
  forgets it: its answer, if it comes, is dropped. The node may still have
  done the work (as a unary call cancelled too late): a shard written for a
  write given up on is an orphan, which GC removes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

import grpc
import grpc.aio

from proto.wire import StreamAnswer

log = logging.getLogger(__name__)

ENABLED = os.environ.get("TESSERA_NODE_STREAMS", "1") != "0"

Metadata = tuple[tuple[str, str], ...]
Request = TypeVar("Request")
Answer = TypeVar("Answer")
Item = TypeVar("Item")
Out = TypeVar("Out")


class CallFailed(Exception):
    """A request answered with an error (its gRPC status, and the S3 error
    code it names, if any), or lost with its stream."""

    def __init__(self, code: grpc.StatusCode, message: str, *, s3_code: str = "") -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.s3_code = s3_code


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def status_code(value: int) -> grpc.StatusCode:
    """The grpc.StatusCode of a numeric code (UNKNOWN for one gRPC does not define)."""
    return _CODES.get(value, grpc.StatusCode.UNKNOWN)


class Packer(Protocol):
    """How several wrapped requests (answers) go as one message: join(items)
    is that message, size(item) an item's size in bytes. A message is joined
    from the items ready when it is sent, up to PACK_BYTES_MAX of them (an
    item larger than that goes alone)."""

    def join(self, items: list[Any]) -> Any: ...

    def size(self, item: Any) -> int: ...


PACK_BYTES_MAX = 1024 * 1024
# Loop turns a packing stream's writer lets pass before it packs what is queued.
PACK_TURNS = 3


def _packed(first: Any, queue: asyncio.Queue[Any], packer: Packer) -> tuple[Any, bool]:
    """The message of first and the items queued behind it (up to
    PACK_BYTES_MAX), and whether the queue's end (None) was met."""
    items = [first]
    total_bytes = packer.size(first)
    while not queue.empty() and total_bytes < PACK_BYTES_MAX:
        item = queue.get_nowait()
        if item is None:
            return packer.join(items), True
        items.append(item)
        total_bytes += packer.size(item)
    return packer.join(items), False


class _Stream(Generic[Request, Answer]):
    """One stream call and the requests waiting on it."""

    def __init__(
        self,
        open_call: Callable[..., Any],
        wrap: Callable[[int, Request], Any],
        metadata: Metadata,
        packer: Packer | None,
    ) -> None:
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.waiting: dict[int, asyncio.Future[Answer]] = {}
        self.next_id = 1
        self.ended = False
        self._wrap = wrap
        self._packer = packer
        self.call = open_call(self._requests(), metadata=metadata)

    async def _requests(self) -> AsyncIterator[Any]:
        while (item := await self.outbox.get()) is not None:
            if self._packer is None:
                yield item
                continue
            # A few turns of the loop first: callers that are about to send
            # (the other requests of a burst) join this message. At 16 GETs
            # in flight one turn cut the cluster's CPU per GET by 11 %, three
            # by 20 % more; at one caller they cost nothing measurable
            # (docs/benchmarks.md, "Three loop turns before packing").
            for _ in range(PACK_TURNS):
                await asyncio.sleep(0)
            message, ended = _packed(item, self.outbox, self._packer)
            yield message
            if ended:
                return

    def send(self, request: Request) -> asyncio.Future[Answer]:
        call_id = self.next_id
        self.next_id += 1
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting[call_id] = future
        future.add_done_callback(lambda done: self._forget(call_id, done))
        self.outbox.put_nowait(self._wrap(call_id, request))
        return future

    def _forget(self, call_id: int, future: asyncio.Future[Answer]) -> None:
        if self.waiting.get(call_id) is future:
            del self.waiting[call_id]

    def answer(self, reply: StreamAnswer[Answer]) -> None:
        future = self.waiting.pop(reply.id, None)
        if future is None or future.done():
            return  # given up on by its caller
        if reply.code == 0 and reply.answer is not None:
            future.set_result(reply.answer)
        elif reply.code == 0:
            future.set_exception(CallFailed(grpc.StatusCode.INTERNAL, "an answer without a body"))
        else:
            failed = CallFailed(status_code(reply.code), reply.message, s3_code=reply.s3_code)
            future.set_exception(failed)

    def end(self, code: grpc.StatusCode, message: str) -> None:
        self.ended = True
        self.outbox.put_nowait(None)
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(CallFailed(code, message))


class CallStream(Generic[Request, Answer]):
    """Requests of one method over one stream per (node channel, metadata).

    open_call is the stub's multi-callable of the stream method; wrap(id,
    request) builds a stream request; unwrap(message) reads a stream answer
    into a StreamAnswer (none: the method's deserializer already gives one).
    With a packer, a message carries every wrapped request ready to go
    (Packer), and unwrap reads a message into the StreamAnswers it carries.
    enabled: whether callers should use it (None: ENABLED, read at each use).
    The call is opened on first use, inside the event loop."""

    def __init__(
        self,
        open_call: Callable[..., Any],
        wrap: Callable[[int, Request], Any],
        unwrap: Callable[[Any], Any] | None = None,
        *,
        packer: Packer | None = None,
        enabled: bool | None = None,
    ) -> None:
        self._open_call = open_call
        self._wrap = wrap
        self._unwrap = unwrap
        self._packer = packer
        self._enabled = enabled
        self._streams: dict[Metadata, _Stream[Request, Answer]] = {}
        self._pumps: set[asyncio.Task[None]] = set()
        self.unsupported = False  # the node answered UNIMPLEMENTED

    @property
    def usable(self) -> bool:
        """Whether callers should use the stream (it is enabled, and the
        server has it)."""
        enabled = ENABLED if self._enabled is None else self._enabled
        return enabled and not self.unsupported

    def call(self, request: Request, metadata: Metadata) -> asyncio.Future[Answer]:
        """The answer to one request, as a future (cancel it to give up).
        CallFailed(UNIMPLEMENTED) once the node is known not to serve the
        stream."""
        if self.unsupported:
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            future.set_exception(CallFailed(grpc.StatusCode.UNIMPLEMENTED, "no such stream"))
            return future
        stream = self._streams.get(metadata)
        if stream is None or stream.ended:
            stream = _Stream(self._open_call, self._wrap, metadata, self._packer)
            self._streams[metadata] = stream
            pump = asyncio.ensure_future(self._pump(stream, metadata))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)
        return stream.send(request)

    async def _pump(self, stream: _Stream[Request, Answer], metadata: Metadata) -> None:
        """Hands each answer to its request; fails the rest when the stream ends."""
        code, message = grpc.StatusCode.UNAVAILABLE, "the stream ended"
        try:
            async for message_in in stream.call:
                if self._unwrap is None:
                    stream.answer(message_in)
                elif self._packer is None:
                    stream.answer(self._unwrap(message_in))
                else:
                    for reply in self._unwrap(message_in):
                        stream.answer(reply)
        except grpc.aio.AioRpcError as exc:
            code, message = exc.code(), exc.details() or code.name
            if code == grpc.StatusCode.UNIMPLEMENTED:
                self.unsupported = True
            elif code != grpc.StatusCode.CANCELLED:
                log.info("call stream ended: %s %s", code.name, message)
        except asyncio.CancelledError:
            code, message = grpc.StatusCode.CANCELLED, "the stream was cancelled"
            raise
        except Exception as exc:  # a malformed answer (WireError) or a bug: end this stream
            code, message = grpc.StatusCode.INTERNAL, f"call stream: {exc!r}"
            log.warning("call stream failed: %r", exc)
        finally:
            stream.end(code, message)
            stream.call.cancel()
            if self._streams.get(metadata) is stream:
                del self._streams[metadata]


async def answer_each(
    requests: AsyncIterator[Item],
    answer: Callable[[Item], Awaitable[Out]],
    packer: Packer | None = None,
    *,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[Any]:
    """The answers of a stream of calls, server side: each request is
    answered by answer (which turns every failure into an answer of its
    own) in a task of its own, and each answer is yielded as soon as it is
    ready (with a packer, joined with every other answer ready by then).
    Ends once the caller has closed its side and every request is answered;
    a broken request stream fails the call, and ending the call cancels the
    requests still being served.

    closing (the server is stopping): from then on no request is taken; the
    ones taken are answered and the stream ends (OK), so that a graceful
    stop does not wait its whole grace for the callers' long-lived streams.
    A request the caller sent but that was not taken is failed on its side
    when the stream ends (UNAVAILABLE), as a call refused by a stopping
    server: it was not served."""
    ready: asyncio.Queue[Out | None] = asyncio.Queue()
    serving: set[asyncio.Task[None]] = set()
    taking = True

    async def serve(item: Item) -> None:
        ready.put_nowait(await answer(item))

    async def take() -> None:
        nonlocal taking
        try:
            async for item in requests:
                task = asyncio.ensure_future(serve(item))
                serving.add(task)
                task.add_done_callback(serving.discard)
        except asyncio.CancelledError:
            if closing is None or not closing.is_set():
                raise
            current = asyncio.current_task()
            assert current is not None
            current.uncancel()  # closing: answer what was taken
        taking = False
        while serving:
            await asyncio.wait(set(serving))

    def stop_taking(_: object) -> None:
        if taking and closing is not None and closing.is_set():
            taker.cancel()

    taker = asyncio.ensure_future(take())
    taker.add_done_callback(lambda _: ready.put_nowait(None))
    watcher = asyncio.ensure_future(closing.wait()) if closing is not None else None
    if watcher is not None:
        watcher.add_done_callback(stop_taking)
    try:
        while (out := await ready.get()) is not None:
            if packer is None:
                yield out
                continue
            message, ended = _packed(out, ready, packer)
            yield message
            if ended:
                break
        if not taker.cancelled():  # cancelled before it started: closing
            await taker  # a broken request stream fails the call
    finally:
        if watcher is not None:
            watcher.cancel()
        taker.cancel()
        for task in list(serving):
            task.cancel()
