"""The Node service with its shard bytes encoded by hand (proto/wire.py):
the stub every caller of a node uses, and the registration of a servicer.

The eight methods that carry chunks (PutShard, PutWholeShard,
PutWholeShardStream, PutWholeShardPacked, GetShard, ReadChunks,
ReadChunksStream, ReadChunksPacked) get
proto/wire.py's encoders and decoders in place of the generated classes'
SerializeToString and FromString; every other method is registered as
generated. The method names and the bytes on the wire are
unchanged, so a node or a caller on the generated code talks to these.

What they carry, on either side:
- PutShard: a PutChunk or a pb.PutShardRequest (header, finish, whole);
- PutWholeShard: a WholeShardMessage;
- PutWholeShardStream: (id, WholeShardMessage) requests (answers as generated);
- GetShard: WireChunk answers;
- ReadChunks: a ChunksAnswer;
- ReadChunksStream: StreamAnswer answers (requests as generated);
- PutWholeShardPacked: lists of (id, WholeShardMessage) requests (answers
  as generated);
- ReadChunksPacked: lists of StreamAnswer answers (requests as generated).

A stub's read_stream and write_stream (proto/call_stream.py) send ReadChunks
and PutWholeShard requests over one ReadChunksPacked and one
PutWholeShardPacked call per node instead of a unary call each, every
request ready when a message goes out in that message, and the node's
answers likewise (docs/erasure-coding.md, "Packed node streams");
TESSERA_NODE_PACKING=0 sends one request a message over ReadChunksStream
and PutWholeShardStream instead (PACKING), as gateways before packing did;
delete_shards removes shards with one DeleteShards call, or one DeleteShard
each on a node that predates it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from prometheus_client import Histogram

from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto import wire
from proto.call_stream import CallStream, Metadata

SERVICE = "tessera.Node"
PACKING = os.environ.get("TESSERA_NODE_PACKING", "1") != "0"

# How far packing goes: requests per message (a gateway's, a node's during
# repair) and answers per message (a node's), by stream.
CALLS_PER_MESSAGE = Histogram(
    "tessera_node_stream_calls_per_message",
    "Requests or answers one message of a packed node stream carried",
    ["stream", "side"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
# A read request's share of a message's byte bound (its few bytes of ids
# and offsets count for more, so that one message's answers stay bounded).
_READ_REQUEST_BYTES = 1024
_WRITE_ANSWER_BYTES = 64


class _Packer:
    """proto/call_stream.Packer of one side of one packed stream: join
    counts how many items a message carries and hands them on as a list
    (the method's serializer encodes it), or builds the message."""

    def __init__(
        self,
        stream: str,
        side: str,
        size: Callable[[Any], int],
        join: Callable[[list[Any]], Any] = list,
    ) -> None:
        self._observe = CALLS_PER_MESSAGE.labels(stream, side).observe
        self.size = size
        self._join = join

    def join(self, items: list[Any]) -> Any:
        self._observe(len(items))
        return self._join(items)


def _answer_bytes(answer: wire.StreamAnswer[wire.ChunksAnswer]) -> int:
    chunks = answer.answer.chunks if answer.answer is not None else ()
    return sum(len(c.data) for c in chunks) + len(answer.message)


def _whole_bytes(item: tuple[int, wire.WholeShardMessage]) -> int:
    return len(item[1].chunk.data) + len(item[1].trailer)


READ_REQUESTS = _Packer(
    "read",
    "requests",
    lambda _: _READ_REQUEST_BYTES,
    lambda reads: pb.ReadChunksPackedRequests(reads=reads),
)
READ_ANSWERS = _Packer("read", "answers", _answer_bytes)
WRITE_REQUESTS = _Packer("write", "requests", _whole_bytes)
WRITE_ANSWERS = _Packer(
    "write",
    "answers",
    lambda _: _WRITE_ANSWER_BYTES,
    lambda answers: pb.PutWholeShardPackedAnswers(answers=answers),
)
# As the generated stub asks (grpc-stubs does not know the argument).
_REGISTERED: dict[str, Any] = {"_registered_method": True}


class NodeStub(pb_grpc.NodeStub):  # type: ignore[misc]
    """The generated stub with the eight chunk-carrying methods replaced, and
    the call streams over ReadChunksPacked and PutWholeShardPacked."""

    def __init__(self, channel: grpc.aio.Channel, *, packing: bool | None = None) -> None:
        """packing: the streams packed (None: PACKING)."""
        super().__init__(channel)
        self.PutShard = channel.stream_unary(
            f"/{SERVICE}/PutShard",
            request_serializer=wire.encode_put_request,
            response_deserializer=pb.PutShardResponse.FromString,
            **_REGISTERED,
        )
        self.PutWholeShard = channel.unary_unary(
            f"/{SERVICE}/PutWholeShard",
            request_serializer=wire.encode_whole_shard,
            response_deserializer=pb.PutShardResponse.FromString,
            **_REGISTERED,
        )
        self.GetShard = channel.unary_stream(
            f"/{SERVICE}/GetShard",
            request_serializer=pb.GetShardRequest.SerializeToString,
            response_deserializer=wire.decode_chunk,
            **_REGISTERED,
        )
        self.ReadChunks = channel.unary_unary(
            f"/{SERVICE}/ReadChunks",
            request_serializer=pb.ReadChunksRequest.SerializeToString,
            response_deserializer=wire.decode_chunks_answer,
            **_REGISTERED,
        )
        self.ReadChunksStream = channel.stream_stream(
            f"/{SERVICE}/ReadChunksStream",
            request_serializer=pb.ReadChunksStreamRequest.SerializeToString,
            response_deserializer=wire.decode_stream_answer,
            **_REGISTERED,
        )
        self.PutWholeShardStream = channel.stream_stream(
            f"/{SERVICE}/PutWholeShardStream",
            request_serializer=wire.encode_whole_shard_item,
            response_deserializer=pb.PutWholeShardStreamAnswer.FromString,
            **_REGISTERED,
        )
        self.ReadChunksPacked = channel.stream_stream(
            f"/{SERVICE}/ReadChunksPacked",
            request_serializer=pb.ReadChunksPackedRequests.SerializeToString,
            response_deserializer=wire.decode_packed_stream_answers,
            **_REGISTERED,
        )
        self.PutWholeShardPacked = channel.stream_stream(
            f"/{SERVICE}/PutWholeShardPacked",
            request_serializer=wire.encode_packed_whole_shard_items,
            response_deserializer=pb.PutWholeShardPackedAnswers.FromString,
            **_REGISTERED,
        )
        self.read_stream: CallStream[pb.ReadChunksRequest, wire.ChunksAnswer]
        self.write_stream: CallStream[wire.WholeShardMessage, pb.PutShardResponse]
        if PACKING if packing is None else packing:
            self.read_stream = CallStream(
                self.ReadChunksPacked, _read_item, _read_replies, packer=READ_REQUESTS
            )
            self.write_stream = CallStream(
                self.PutWholeShardPacked, _write_item, _write_replies, packer=WRITE_REQUESTS
            )
        else:
            self.read_stream = CallStream(self.ReadChunksStream, _read_item)
            self.write_stream = CallStream(self.PutWholeShardStream, _write_item, _write_reply)

    async def delete_shards(
        self, shards: Sequence[pb.DeleteShardRequest], *, timeout_seconds: float, metadata: Metadata
    ) -> list[bool]:
        """Deletes shards with one DeleteShards call (the node fsyncs each
        folder once); a node that predates it (UNIMPLEMENTED) is asked one
        DeleteShard per shard, concurrently. Returns whether each shard
        existed; raises the call's AioRpcError (or a fallback call's)."""
        try:
            reply = await self.DeleteShards(
                pb.DeleteShardsRequest(shards=shards), timeout=timeout_seconds, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            replies = await asyncio.gather(
                *(self.DeleteShard(s, timeout=timeout_seconds, metadata=metadata) for s in shards)
            )
            return [r.existed for r in replies]
        if len(reply.existed) != len(shards):
            raise ValueError(f"{len(reply.existed)} answers to {len(shards)} deletes")
        return list(reply.existed)


def _read_item(call_id: int, request: pb.ReadChunksRequest) -> pb.ReadChunksStreamRequest:
    return pb.ReadChunksStreamRequest(id=call_id, read=request)


def _write_item(call_id: int, whole: wire.WholeShardMessage) -> tuple[int, wire.WholeShardMessage]:
    return call_id, whole


def _write_reply(answer: pb.PutWholeShardStreamAnswer) -> wire.StreamAnswer[pb.PutShardResponse]:
    return wire.StreamAnswer(
        answer.id, answer.answer if answer.HasField("answer") else None, answer.code, answer.message
    )


def _read_replies(
    answers: list[wire.StreamAnswer[wire.ChunksAnswer]],
) -> list[wire.StreamAnswer[wire.ChunksAnswer]]:
    return answers  # decoded as such by the method's deserializer


def _write_replies(
    message: pb.PutWholeShardPackedAnswers,
) -> list[wire.StreamAnswer[pb.PutShardResponse]]:
    return [_write_reply(answer) for answer in message.answers]


class _Capture:
    """Stands in for a server to collect the generated handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.handlers = dict(handlers)


def node_handlers(servicer: Any) -> dict[str, Any]:
    """The Node service's method handlers for servicer, the eight
    chunk-carrying ones with proto/wire.py's encoding."""
    capture = _Capture()
    pb_grpc.add_NodeServicer_to_server(servicer, capture)
    handlers = capture.handlers
    handlers["PutShard"] = grpc.stream_unary_rpc_method_handler(
        servicer.PutShard,
        request_deserializer=wire.decode_put_request,
        response_serializer=pb.PutShardResponse.SerializeToString,
    )
    handlers["PutWholeShard"] = grpc.unary_unary_rpc_method_handler(
        servicer.PutWholeShard,
        request_deserializer=wire.decode_whole_shard,
        response_serializer=pb.PutShardResponse.SerializeToString,
    )
    handlers["GetShard"] = grpc.unary_stream_rpc_method_handler(
        servicer.GetShard,
        request_deserializer=pb.GetShardRequest.FromString,
        response_serializer=wire.encode_chunk,
    )
    handlers["ReadChunks"] = grpc.unary_unary_rpc_method_handler(
        servicer.ReadChunks,
        request_deserializer=pb.ReadChunksRequest.FromString,
        response_serializer=wire.encode_chunks_answer,
    )
    handlers["PutWholeShardStream"] = grpc.stream_stream_rpc_method_handler(
        servicer.PutWholeShardStream,
        request_deserializer=wire.decode_whole_shard_item,
        response_serializer=pb.PutWholeShardStreamAnswer.SerializeToString,
    )
    handlers["ReadChunksStream"] = grpc.stream_stream_rpc_method_handler(
        servicer.ReadChunksStream,
        request_deserializer=pb.ReadChunksStreamRequest.FromString,
        response_serializer=wire.encode_stream_answer,
    )
    handlers["PutWholeShardPacked"] = grpc.stream_stream_rpc_method_handler(
        servicer.PutWholeShardPacked,
        request_deserializer=wire.decode_packed_whole_shard_items,
        response_serializer=pb.PutWholeShardPackedAnswers.SerializeToString,
    )
    handlers["ReadChunksPacked"] = grpc.stream_stream_rpc_method_handler(
        servicer.ReadChunksPacked,
        request_deserializer=pb.ReadChunksPackedRequests.FromString,
        response_serializer=wire.encode_packed_stream_answers,
    )
    return handlers


def add_node_servicer(servicer: Any, server: grpc.aio.Server) -> None:
    """Registers servicer as the Node service on server."""
    handlers = node_handlers(servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    registering: Any = server  # as generated code does; grpc-stubs lacks the method
    registering.add_registered_method_handlers(SERVICE, handlers)
