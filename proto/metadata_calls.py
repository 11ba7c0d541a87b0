"""Unary Metadata calls over one long-lived stream per replica
(docs/metadata.md, "One stream of calls per replica").

A unary gRPC call costs both sides a fixed amount of CPU beyond its
message (the call's set-up and tear-down, its headers, a handler task, the
secret check, and on the replica a thread switch or more). A GET makes one
metadata call, a PUT two or three. The Metadata service's Calls method
carries such calls instead as messages of one stream per client and
replica: a request names the unary method, carries its request message
(serialized) and the call's timeout; the answer carries the method's answer
(serialized), or the gRPC status, message and S3 error code the unary call
would have failed with. A message carries every request (answer) its
sender has ready when it sends, so under load several calls share the cost
of one message.

Client side, MetadataCalls (one per replica channel) is a CallStream
(proto/call_stream.py): call() returns the answer message or raises
CallFailed. A replica that predates Calls answers UNIMPLEMENTED; the caller
then makes unary calls to it (MetadataCalls.usable turns false).
TESSERA_METADATA_STREAMS=0 in the environment turns the streams off
(ENABLED).

Server side, serve_calls runs each request through the servicer's own
unary handler, with a StreamedContext in place of the call's context: the
three ServicerContext methods metadata handlers use (abort,
set_trailing_metadata, time_remaining). The handler is cancelled when the
request's timeout runs out, as a unary call's is at its deadline.

Invariants:
- a request is served by exactly the unary handler of the method it names,
  with its checks, metrics and errors; an answer's failure is the failure
  the unary call would have had, S3 code included;
- only the service's unary methods can be named (anything else:
  UNIMPLEMENTED); a request that does not decode is INVALID_ARGUMENT and
  runs nothing;
- as with a unary call, a request whose answer did not arrive (its stream
  ended, its caller gave up) may still have taken effect: mutations carry a
  request id, so the caller's retry does not apply one twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError, Message
from prometheus_client import Histogram

from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.call_stream import CallFailed, CallStream, Metadata, answer_each
from proto.rpc import S3_CODE_HEADER
from proto.wire import StreamAnswer

log = logging.getLogger(__name__)

ENABLED = os.environ.get("TESSERA_METADATA_STREAMS", "1") != "0"


@dataclass(frozen=True, slots=True)
class Method:
    """A unary Metadata method's request and answer message classes."""

    request: type[Message]
    answer: type[Message]


# Every unary method of the Metadata service (Calls and FetchCheckpoint
# stream, so they cannot be named).
METHODS: dict[str, Method] = {
    method.name: Method(getattr(pb, method.input_type.name), getattr(pb, method.output_type.name))
    for method in pb.DESCRIPTOR.services_by_name["Metadata"].methods
    if not method.client_streaming and not method.server_streaming
}


@dataclass(frozen=True, slots=True)
class Call:
    """One unary call to send over the stream."""

    method: str
    request: Message
    timeout_seconds: float


def _wrap(call_id: int, call: Call) -> pb.CallRequest:
    return pb.CallRequest(
        id=call_id,
        method=call.method,
        request=call.request.SerializeToString(),
        timeout_seconds=call.timeout_seconds,
    )


def _unwrap(message: pb.CallAnswers) -> list[StreamAnswer[bytes]]:
    return [
        StreamAnswer(answer.id, answer.answer, answer.code, answer.message, answer.s3_code)
        for answer in message.answers
    ]


# How far packing goes: calls per CallRequests message (the client's side:
# gateways, nodes, tools) and answers per CallAnswers message (a replica's).
CALLS_PER_MESSAGE = Histogram(
    "tessera_metadata_stream_calls_per_message",
    "Calls (requests or answers) one message of a metadata Calls stream carried",
    ["side"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
_REQUESTS_PER_MESSAGE = CALLS_PER_MESSAGE.labels("requests")
_ANSWERS_PER_MESSAGE = CALLS_PER_MESSAGE.labels("answers")


class _RequestPacker:
    def join(self, items: list[pb.CallRequest]) -> pb.CallRequests:
        _REQUESTS_PER_MESSAGE.observe(len(items))
        return pb.CallRequests(calls=items)

    def size(self, item: pb.CallRequest) -> int:
        return len(item.request)


class _AnswerPacker:
    def join(self, items: list[pb.CallAnswer]) -> pb.CallAnswers:
        _ANSWERS_PER_MESSAGE.observe(len(items))
        return pb.CallAnswers(answers=items)

    def size(self, item: pb.CallAnswer) -> int:
        return len(item.answer)


class MetadataCalls:
    """The unary calls of one replica's channel, over its Calls stream."""

    def __init__(self, stub: pb_grpc.MetadataStub, *, enabled: bool | None = None) -> None:
        """enabled: whether to use the stream (None: ENABLED)."""
        self._stream: CallStream[Call, bytes] = CallStream(
            stub.Calls,
            _wrap,
            _unwrap,
            packer=_RequestPacker(),
            enabled=ENABLED if enabled is None else enabled,
        )

    @property
    def usable(self) -> bool:
        """Whether to send calls here (the stream is on, and the replica has it)."""
        return self._stream.usable

    async def call(
        self, method: str, request: Message, timeout_seconds: float, metadata: Metadata
    ) -> Any:
        """The method's answer message. CallFailed: the failure the unary
        call would have had (DEADLINE_EXCEEDED when timeout_seconds ran
        out first), or the status its stream ended with (UNAVAILABLE when
        the replica stopped or went away); UNIMPLEMENTED with usable turned
        false: the replica has no Calls, ask with a unary call."""
        answer_class = METHODS[method].answer
        future = self._stream.call(Call(method, request, timeout_seconds), metadata)
        try:
            async with asyncio.timeout(timeout_seconds):
                answer = await future  # given up on (cancelled) at the timeout
        except TimeoutError:
            raise CallFailed(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        return answer_class.FromString(answer)


class Aborted(Exception):
    """StreamedContext.abort: the handler ended its call with this status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class StreamedContext:
    """What a unary handler sees of a call that came over Calls."""

    def __init__(self, timeout_seconds: float) -> None:
        self._deadline = time.monotonic() + timeout_seconds if timeout_seconds > 0 else None
        self.s3_code = ""

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        for key, value in metadata:
            if key == S3_CODE_HEADER:
                self.s3_code = str(value)

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise Aborted(code, details)


async def serve_calls(
    servicer: Any,
    messages: AsyncIterator[pb.CallRequests],
    closing: asyncio.Event | None = None,
) -> AsyncIterator[pb.CallAnswers]:
    """The answers to a Calls stream: each request served by the servicer's
    unary handler of the method it names, its answer sent with the others
    ready by then. Once closing is set (the replica is stopping) no new
    request is taken, and the stream ends once the ones taken are answered."""

    async def requests() -> AsyncIterator[pb.CallRequest]:
        async for message in messages:
            for request in message.calls:
                yield request

    async def answer(item: pb.CallRequest) -> pb.CallAnswer:
        context = StreamedContext(item.timeout_seconds)
        try:
            reply = await _run(servicer, item, context)
        except Aborted as exc:
            return _failed(item.id, exc.code, exc.message, context.s3_code)
        except TimeoutError:
            return _failed(item.id, grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        except Exception:
            log.exception("metadata call %s over the stream failed", item.method)
            return _failed(item.id, grpc.StatusCode.INTERNAL, "the call failed")
        return pb.CallAnswer(id=item.id, answer=reply.SerializeToString())

    async for out in answer_each(requests(), answer, _AnswerPacker(), closing=closing):
        yield out


async def _run(servicer: Any, item: pb.CallRequest, context: StreamedContext) -> Message:
    """The unary handler's answer to one request (Aborted: its failure)."""
    method = METHODS.get(item.method)
    if method is None:
        raise Aborted(grpc.StatusCode.UNIMPLEMENTED, f"no unary method {item.method!r}")
    try:
        request = method.request.FromString(item.request)
    except DecodeError as exc:
        raise Aborted(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {exc}") from exc
    handler = getattr(servicer, item.method)
    async with asyncio.timeout(context.time_remaining()):
        reply: Message = await handler(request, context)
    return reply


def _failed(call_id: int, code: grpc.StatusCode, message: str, s3_code: str = "") -> pb.CallAnswer:
    return pb.CallAnswer(id=call_id, code=code.value[0], message=message, s3_code=s3_code)
