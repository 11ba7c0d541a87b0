"""The messages that carry shard bytes, encoded and decoded by hand in the
protobuf wire format (docs/erasure-coding.md, "Shard bytes off the protobuf
objects").

Through the generated classes, a chunk's bytes are copied four times between
two processes besides gRPC's own copy: into the message (setting `data`), out
of it (serializing), into the receiver's message (parsing), and out of that
(each read of a bytes field of a upb message is a fresh copy). Here the
sender joins the few header bytes and the data once, and the receiver keeps
a memoryview into the buffer gRPC handed it: no copy at all. What goes over
the wire is unchanged, byte for byte a valid message of the same type, so a
peer that still uses the generated classes reads and writes the same
messages.

Covered: Chunk (GetShard's answers), ReadChunksResponse,
ReadChunksStreamAnswer and ReadChunksPackedAnswers, WholeShard
(PutWholeShard), PutWholeShardStreamRequest and PutWholeShardPackedRequests,
and the chunk item of PutShardRequest. The decoders accept
any valid encoding of their message (fields in any order, unknown fields
skipped, the last of a repeated scalar winning, repeated sub-messages
merged, as protobuf parsers do) and raise WireError on a malformed one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from proto import tessera_pb2 as pb

Buffer = bytes | memoryview
T = TypeVar("T")

_VARINT = 0
_FIXED64 = 1
_LEN = 2
_FIXED32 = 5
_VARINT_MAX_BYTES = 10


class WireError(ValueError):
    """A message that is not a valid encoding of its type."""


@dataclass(frozen=True, slots=True)
class WireChunk:
    """A Chunk whose data is a view into the received message (or the bytes
    to send): the same attributes as pb.Chunk."""

    stripe_index: int
    data: Buffer
    crc32c: int


@dataclass(frozen=True, slots=True)
class ChunksAnswer:
    """A ReadChunksResponse: the chunks, in the order they came."""

    chunks: list[WireChunk]


@dataclass(frozen=True, slots=True)
class StreamAnswer(Generic[T]):
    """An answer on a stream of calls (proto/call_stream.py): the id of the
    request it answers, and its answer (code 0) or the gRPC status code and
    message of its failure (and the S3 error code it names: metadata calls
    only). ReadChunksStreamAnswer is one with a ChunksAnswer, encoded and
    decoded here."""

    id: int
    answer: T | None
    code: int = 0
    message: str = ""
    s3_code: str = ""


@dataclass(frozen=True, slots=True)
class WholeShardMessage:
    """A WholeShard: a one-stripe shard's header, its one chunk and trailer."""

    header: pb.ShardHeader
    chunk: WireChunk
    trailer: Buffer


@dataclass(frozen=True, slots=True)
class PutChunk:
    """The chunk item of a PutShardRequest (the other items stay generated
    messages: they carry no bulk bytes)."""

    chunk: WireChunk


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_prefix(field_number: int, length: int) -> bytes:
    return _varint(field_number << 3 | _LEN) + _varint(length)


def _chunk_pieces(stripe_index: int, data: Buffer, crc: int) -> tuple[list[Buffer], int]:
    """The pieces of an encoded Chunk (fields in number order, zero scalars
    left out, as the generated encoder does) and their total length."""
    pieces: list[Buffer] = []
    if stripe_index:
        pieces.append(_varint(1 << 3 | _VARINT) + _varint(stripe_index))
    if len(data):
        pieces.append(_len_prefix(2, len(data)))
        pieces.append(data)
    if crc:
        pieces.append(_varint(3 << 3 | _VARINT) + _varint(crc))
    return pieces, sum(len(p) for p in pieces)


def encode_chunk(chunk: WireChunk) -> bytes:
    """A Chunk message (GetShard's answers)."""
    pieces, _ = _chunk_pieces(chunk.stripe_index, chunk.data, chunk.crc32c)
    return b"".join(pieces)


def _chunks_answer_pieces(answer: ChunksAnswer) -> tuple[list[Buffer], int]:
    out: list[Buffer] = []
    for chunk in answer.chunks:
        pieces, length = _chunk_pieces(chunk.stripe_index, chunk.data, chunk.crc32c)
        out.append(_len_prefix(1, length))
        out.extend(pieces)
    return out, sum(len(p) for p in out)


def encode_chunks_answer(answer: ChunksAnswer) -> bytes:
    """A ReadChunksResponse message."""
    pieces, _ = _chunks_answer_pieces(answer)
    return b"".join(pieces)


def encode_stream_answer(answer: StreamAnswer[ChunksAnswer]) -> bytes:
    """A ReadChunksStreamAnswer message (its chunks joined once, as
    encode_chunks_answer does)."""
    pieces, _ = _stream_answer_pieces(answer)
    return b"".join(pieces)


def encode_packed_stream_answers(answers: Sequence[StreamAnswer[ChunksAnswer]]) -> bytes:
    """A ReadChunksPackedAnswers message (every answer's chunks joined once)."""
    return _packed(answers, _stream_answer_pieces)


def _packed(items: Sequence[T], pieces_of: Callable[[T], tuple[list[Buffer], int]]) -> bytes:
    """A message whose field 1 repeats items (a ...Packed message), each
    encoded by pieces_of, joined once."""
    out: list[Buffer] = []
    for item in items:
        pieces, length = pieces_of(item)
        out.append(_len_prefix(1, length))
        out.extend(pieces)
    return b"".join(out)


def _stream_answer_pieces(answer: StreamAnswer[ChunksAnswer]) -> tuple[list[Buffer], int]:
    out: list[Buffer] = []
    if answer.id:
        out.append(_varint(1 << 3 | _VARINT) + _varint(answer.id))
    if answer.answer is not None:
        pieces, length = _chunks_answer_pieces(answer.answer)
        out.append(_len_prefix(2, length))
        out.extend(pieces)
    if answer.code:
        out.append(_varint(3 << 3 | _VARINT) + _varint(answer.code))
    if answer.message:
        message = answer.message.encode()
        out += [_len_prefix(4, len(message)), message]
    return out, sum(len(p) for p in out)


def _whole_shard_pieces(whole: WholeShardMessage) -> tuple[list[Buffer], int]:
    header = whole.header.SerializeToString()
    pieces, length = _chunk_pieces(whole.chunk.stripe_index, whole.chunk.data, whole.chunk.crc32c)
    out: list[Buffer] = [_len_prefix(1, len(header)), header, _len_prefix(2, length), *pieces]
    if len(whole.trailer):
        out += [_len_prefix(3, len(whole.trailer)), whole.trailer]
    return out, sum(len(p) for p in out)


def encode_whole_shard(whole: WholeShardMessage) -> bytes:
    """A WholeShard message."""
    pieces, _ = _whole_shard_pieces(whole)
    return b"".join(pieces)


def encode_whole_shard_item(item: tuple[int, WholeShardMessage]) -> bytes:
    """A PutWholeShardStreamRequest (id, whole shard), joined once."""
    pieces, _ = _whole_shard_item_pieces(item)
    return b"".join(pieces)


def encode_packed_whole_shard_items(items: Sequence[tuple[int, WholeShardMessage]]) -> bytes:
    """A PutWholeShardPackedRequests message of (id, whole shard) items,
    joined once."""
    return _packed(items, _whole_shard_item_pieces)


def _whole_shard_item_pieces(item: tuple[int, WholeShardMessage]) -> tuple[list[Buffer], int]:
    item_id, whole = item
    pieces, length = _whole_shard_pieces(whole)
    out: list[Buffer] = []
    if item_id:
        out.append(_varint(1 << 3 | _VARINT) + _varint(item_id))
    out += [_len_prefix(2, length), *pieces]
    return out, sum(len(p) for p in out)


def encode_put_request(request: PutChunk | WholeShardMessage | pb.PutShardRequest) -> bytes:
    """A PutShardRequest: a chunk or whole item by hand, any other (header,
    finish) as generated."""
    if isinstance(request, pb.PutShardRequest):
        return request.SerializeToString()
    if isinstance(request, WholeShardMessage):
        whole = encode_whole_shard(request)
        return _len_prefix(4, len(whole)) + whole
    chunk = request.chunk
    pieces, length = _chunk_pieces(chunk.stripe_index, chunk.data, chunk.crc32c)
    return b"".join([_len_prefix(2, length), *pieces])


def _read_varint(view: memoryview, at: int) -> tuple[int, int]:
    """(value, position after it)."""
    value = 0
    for i in range(_VARINT_MAX_BYTES):
        if at + i >= len(view):
            raise WireError("a varint runs past the end of the message")
        byte = view[at + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, at + i + 1
    raise WireError("a varint longer than 10 bytes")


def _fields(view: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field: an int for a varint or
    fixed field, a view of the bytes for a length-delimited one."""
    at = 0
    end = len(view)
    while at < end:
        key, at = _read_varint(view, at)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == _VARINT:
            value, at = _read_varint(view, at)
            yield number, wire_type, value
        elif wire_type == _LEN:
            length, at = _read_varint(view, at)
            if at + length > end:
                raise WireError("a field runs past the end of the message")
            yield number, wire_type, view[at : at + length]
            at += length
        elif wire_type in (_FIXED64, _FIXED32):
            width = 8 if wire_type == _FIXED64 else 4
            if at + width > end:
                raise WireError("a field runs past the end of the message")
            yield number, wire_type, int.from_bytes(view[at : at + width], "little")
            at += width
        else:
            raise WireError(f"wire type {wire_type}")


def _expect(wire_type: int, wanted: int, name: str) -> None:
    if wire_type != wanted:
        raise WireError(f"field {name} has wire type {wire_type}")


def _decode_chunk_into(parts: Sequence[memoryview]) -> WireChunk:
    """A Chunk from the encodings of its occurrences, merged in order."""
    stripe_index = crc = 0
    data: memoryview = memoryview(b"")
    for part in parts:
        for number, wire_type, value in _fields(part):
            if number == 1:
                _expect(wire_type, _VARINT, "stripe_index")
                assert isinstance(value, int)
                stripe_index = value & 0xFFFFFFFFFFFFFFFF
            elif number == 2:
                _expect(wire_type, _LEN, "data")
                assert isinstance(value, memoryview)
                data = value
            elif number == 3:
                _expect(wire_type, _VARINT, "crc32c")
                assert isinstance(value, int)
                crc = value & 0xFFFFFFFF
    return WireChunk(stripe_index, data, crc)


def _uint(wire_type: int, value: int | memoryview, name: str, bits: int) -> int:
    """A varint field of an unsigned type of that many bits (a longer value
    is cut to them, as generated parsers do)."""
    _expect(wire_type, _VARINT, name)
    assert isinstance(value, int)
    return value & ((1 << bits) - 1)


def _len_field(wire_type: int, value: int | memoryview, name: str) -> memoryview:
    """A length-delimited field's bytes."""
    _expect(wire_type, _LEN, name)
    assert isinstance(value, memoryview)
    return value


def _view(buffer: Buffer) -> memoryview:
    return buffer if isinstance(buffer, memoryview) else memoryview(buffer)


def decode_chunk(buffer: Buffer) -> WireChunk:
    """A Chunk message."""
    return _decode_chunk_into([_view(buffer)])


def decode_chunks_answer(buffer: Buffer) -> ChunksAnswer:
    """A ReadChunksResponse message."""
    chunks = []
    for number, wire_type, value in _fields(_view(buffer)):
        if number == 1:
            _expect(wire_type, _LEN, "chunks")
            assert isinstance(value, memoryview)
            chunks.append(_decode_chunk_into([value]))
    return ChunksAnswer(chunks)


def decode_stream_answer(buffer: Buffer) -> StreamAnswer[ChunksAnswer]:
    """A ReadChunksStreamAnswer message (occurrences of its answer merged:
    their chunks in the order they came)."""
    answer_id = code = 0
    message = ""
    chunks: list[WireChunk] | None = None
    for number, wire_type, value in _fields(_view(buffer)):
        if number == 1:
            answer_id = _uint(wire_type, value, "id", 64)
        elif number == 2:
            answer = _len_field(wire_type, value, "answer")
            chunks = (chunks or []) + decode_chunks_answer(answer).chunks
        elif number == 3:
            code = _uint(wire_type, value, "code", 32)
        elif number == 4:
            message = bytes(_len_field(wire_type, value, "message")).decode(errors="replace")
    return StreamAnswer(answer_id, None if chunks is None else ChunksAnswer(chunks), code, message)


def decode_packed_stream_answers(buffer: Buffer) -> list[StreamAnswer[ChunksAnswer]]:
    """A ReadChunksPackedAnswers message: its answers, in order."""
    return [
        decode_stream_answer(_len_field(wire_type, value, "answers"))
        for number, wire_type, value in _fields(_view(buffer))
        if number == 1
    ]


def decode_whole_shard(buffer: Buffer) -> WholeShardMessage:
    """A WholeShard message. WireError when it is malformed, its header
    included."""
    headers: list[memoryview] = []
    chunks: list[memoryview] = []
    trailer: memoryview = memoryview(b"")
    for number, wire_type, value in _fields(_view(buffer)):
        if number in (1, 2, 3):
            _expect(wire_type, _LEN, "of WholeShard")
            assert isinstance(value, memoryview)
            if number == 1:
                headers.append(value)
            elif number == 2:
                chunks.append(value)
            else:
                trailer = value
    header = pb.ShardHeader()
    try:
        header.ParseFromString(b"".join(headers))
    except Exception as exc:  # upb's DecodeError
        raise WireError(f"the shard header: {exc}") from exc
    return WholeShardMessage(header, _decode_chunk_into(chunks), trailer)


def decode_whole_shard_item(buffer: Buffer) -> tuple[int, WholeShardMessage]:
    """A PutWholeShardStreamRequest: (id, whole shard). Occurrences of the
    whole shard merge, as generated parsers merge them."""
    item_id = 0
    wholes: list[memoryview] = []
    for number, wire_type, value in _fields(_view(buffer)):
        if number == 1:
            item_id = _uint(wire_type, value, "id", 64)
        elif number == 2:
            wholes.append(_len_field(wire_type, value, "whole"))
    if len(wholes) == 1:
        return item_id, decode_whole_shard(wholes[0])
    return item_id, decode_whole_shard(b"".join(wholes))  # rare: merged by concatenation


def decode_packed_whole_shard_items(buffer: Buffer) -> list[tuple[int, WholeShardMessage]]:
    """A PutWholeShardPackedRequests message: its (id, whole shard) items,
    in order. WireError when one is malformed."""
    return [
        decode_whole_shard_item(_len_field(wire_type, value, "writes"))
        for number, wire_type, value in _fields(_view(buffer))
        if number == 1
    ]


def whole_from_pb(whole: pb.WholeShard) -> WholeShardMessage:
    """A WholeShardMessage from the generated message (a whole item of a
    PutShard stream)."""
    chunk = whole.chunk
    return WholeShardMessage(
        whole.header, WireChunk(chunk.stripe_index, chunk.data, chunk.crc32c), whole.trailer
    )


def decode_put_request(buffer: Buffer) -> PutChunk | pb.PutShardRequest:
    """A PutShardRequest: a PutChunk when its item is a chunk, else the
    generated message. WireError when it is malformed."""
    view = _view(buffer)
    chunks: list[memoryview] = []
    for number, wire_type, value in _fields(view):
        if number == 2 and wire_type == _LEN:
            assert isinstance(value, memoryview)
            chunks.append(value)
        elif number in (1, 3, 4):
            chunks = []  # another item of the oneof came later: it wins
    if chunks:
        return PutChunk(_decode_chunk_into(chunks))
    request = pb.PutShardRequest()
    try:
        request.ParseFromString(bytes(view))
    except Exception as exc:  # upb's DecodeError
        raise WireError(f"a PutShardRequest: {exc}") from exc
    return request
