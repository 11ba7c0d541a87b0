"""proto/wire.py: the hand encodings are the generated classes' bytes, byte
for byte, and the hand decoders read whatever a protobuf encoder may send
(fields in any order, unknown fields, repeated occurrences) as the
generated parser does, without copying the data."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto import tessera_pb2 as pb
from proto import wire

U32 = st.integers(min_value=0, max_value=2**32 - 1)
U64 = st.integers(min_value=0, max_value=2**64 - 1)
DATA = st.binary(max_size=2048)


def _header(stripe_count: int = 1) -> pb.ShardHeader:
    return pb.ShardHeader(
        bucket="b",
        key="k/é",
        version_id="v" * 26,
        shard_index=3,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=262144,
        object_size_bytes=1 << 20,
        stripe_count=stripe_count,
    )


@given(stripe_index=U64, data=DATA, crc=U32)
def test_a_chunk_is_encoded_as_generated(stripe_index: int, data: bytes, crc: int) -> None:
    plain = pb.Chunk(stripe_index=stripe_index, data=data, crc32c=crc)
    assert wire.encode_chunk(wire.WireChunk(stripe_index, data, crc)) == plain.SerializeToString()
    back = wire.decode_chunk(plain.SerializeToString())
    assert (back.stripe_index, bytes(back.data), back.crc32c) == (stripe_index, data, crc)


@given(chunks=st.lists(st.tuples(U64, DATA, U32), max_size=4))
def test_a_chunks_answer_is_encoded_as_generated(chunks: list[tuple[int, bytes, int]]) -> None:
    plain = pb.ReadChunksResponse(
        chunks=[pb.Chunk(stripe_index=s, data=d, crc32c=c) for s, d, c in chunks]
    )
    answer = wire.ChunksAnswer([wire.WireChunk(s, d, c) for s, d, c in chunks])
    assert wire.encode_chunks_answer(answer) == plain.SerializeToString()
    back = wire.decode_chunks_answer(plain.SerializeToString())
    assert [(c.stripe_index, bytes(c.data), c.crc32c) for c in back.chunks] == chunks


@given(data=DATA, crc=U32, trailer=st.binary(max_size=64), stripe_count=st.integers(0, 3))
def test_a_whole_shard_is_encoded_as_generated(
    data: bytes, crc: int, trailer: bytes, stripe_count: int
) -> None:
    header = _header(stripe_count)
    plain = pb.WholeShard(
        header=header, chunk=pb.Chunk(stripe_index=0, data=data, crc32c=crc), trailer=trailer
    )
    whole = wire.WholeShardMessage(header, wire.WireChunk(0, data, crc), trailer)
    assert wire.encode_whole_shard(whole) == plain.SerializeToString()
    back = wire.decode_whole_shard(plain.SerializeToString())
    assert back.header == header
    assert (bytes(back.chunk.data), back.chunk.crc32c, bytes(back.trailer)) == (data, crc, trailer)


@given(stripe_index=U64, data=DATA, crc=U32)
def test_put_requests_are_encoded_as_generated(stripe_index: int, data: bytes, crc: int) -> None:
    chunk = pb.Chunk(stripe_index=stripe_index, data=data, crc32c=crc)
    plain = pb.PutShardRequest(chunk=chunk)
    assert (
        wire.encode_put_request(wire.PutChunk(wire.WireChunk(stripe_index, data, crc)))
        == plain.SerializeToString()
    )
    whole = pb.WholeShard(header=_header(), chunk=chunk, trailer=b"t")
    assert (
        wire.encode_put_request(wire.whole_from_pb(whole))
        == pb.PutShardRequest(whole=whole).SerializeToString()
    )
    back = wire.decode_put_request(plain.SerializeToString())
    assert isinstance(back, wire.PutChunk)
    assert (back.chunk.stripe_index, bytes(back.chunk.data), back.chunk.crc32c) == (
        stripe_index,
        data,
        crc,
    )


def test_other_put_requests_stay_generated_messages() -> None:
    for request in (
        pb.PutShardRequest(header=_header()),
        pb.PutShardRequest(finish=pb.Finish(chunk_count=3, trailer=b"xyz")),
        pb.PutShardRequest(whole=pb.WholeShard(header=_header(), trailer=b"t")),
        pb.PutShardRequest(),
    ):
        back = wire.decode_put_request(request.SerializeToString())
        assert isinstance(back, pb.PutShardRequest)
        assert back == request
        assert wire.encode_put_request(back) == request.SerializeToString()


def test_the_last_item_of_the_oneof_wins() -> None:
    chunk = pb.PutShardRequest(chunk=pb.Chunk(stripe_index=1, data=b"abc", crc32c=2))
    header = pb.PutShardRequest(header=_header())
    header_last = wire.decode_put_request(chunk.SerializeToString() + header.SerializeToString())
    assert isinstance(header_last, pb.PutShardRequest)
    assert header_last.WhichOneof("item") == "header"
    chunk_last = wire.decode_put_request(header.SerializeToString() + chunk.SerializeToString())
    assert isinstance(chunk_last, wire.PutChunk)
    assert bytes(chunk_last.chunk.data) == b"abc"


def test_the_data_is_a_view_into_the_received_buffer() -> None:
    data = os.urandom(256 * 1024)
    buffer = pb.ReadChunksResponse(
        chunks=[pb.Chunk(stripe_index=5, data=data, crc32c=9)]
    ).SerializeToString()
    (chunk,) = wire.decode_chunks_answer(buffer).chunks
    assert isinstance(chunk.data, memoryview)
    assert chunk.data.obj is buffer  # not a copy
    assert chunk.data == data


def test_fields_in_another_order_unknown_fields_and_repeats_decode_as_generated() -> None:
    data_field = b"\x12\x03abc"  # data = "abc"
    crc_field = b"\x18\x07"  # crc32c = 7
    stripe_field = b"\x08\x02"  # stripe_index = 2
    unknown = b"\x20\x05" + b"\x2a\x02zz" + b"\x35\x01\x02\x03\x04" + b"\x39" + bytes(8)
    later = b"\x08\x09" + b"\x12\x01d"  # stripe_index = 9, data = "d": the last ones win
    message = crc_field + unknown + data_field + stripe_field + later
    expected = pb.Chunk.FromString(message)
    got = wire.decode_chunk(message)
    assert (got.stripe_index, bytes(got.data), got.crc32c) == (
        expected.stripe_index,
        expected.data,
        expected.crc32c,
    )
    # Two occurrences of one chunk field of a WholeShard merge, as generated.
    whole = b"\x12" + bytes([len(message)]) + message + b"\x12\x02\x18\x0b"  # crc32c = 11
    merged = wire.decode_whole_shard(whole)
    plain = pb.WholeShard.FromString(whole)
    assert (merged.chunk.stripe_index, bytes(merged.chunk.data), merged.chunk.crc32c) == (
        plain.chunk.stripe_index,
        plain.chunk.data,
        plain.chunk.crc32c,
    )


@pytest.mark.parametrize(
    "message",
    [
        b"\x12\x05ab",  # data runs past the end
        b"\x12",  # a length that is not there
        b"\x08" + b"\xff" * 10 + b"\x01",  # a varint of 11 bytes
        b"\x08\x80",  # a varint cut short
        b"\x03\x00",  # wire type 3 (a group)
        b"\x00\x00",  # field number 0
        b"\x0a\x02\x00\x00",  # stripe_index sent as bytes
        b"\x35\x01\x02",  # a fixed32 cut short
    ],
)
def test_a_malformed_chunk_is_a_wire_error(message: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_chunk(message)


def test_a_malformed_header_is_a_wire_error() -> None:
    with pytest.raises(wire.WireError):
        wire.decode_whole_shard(b"\x0a\x02\x0a\x05")  # the header's bucket runs past its end


@given(
    answer_id=U64,
    chunks=st.one_of(st.none(), st.lists(st.tuples(U64, DATA, U32), max_size=3)),
    code=st.integers(0, 16),
    message=st.text(max_size=40),
)
def test_a_stream_answer_is_encoded_as_generated(
    answer_id: int, chunks: list[tuple[int, bytes, int]] | None, code: int, message: str
) -> None:
    plain = pb.ReadChunksStreamAnswer(id=answer_id, code=code, message=message)
    answer = None
    if chunks is not None:
        plain.answer.SetInParent()  # present even with no chunks, as the hand encoder sends it
        plain.answer.chunks.extend(pb.Chunk(stripe_index=s, data=d, crc32c=c) for s, d, c in chunks)
        answer = wire.ChunksAnswer([wire.WireChunk(s, d, c) for s, d, c in chunks])
    encoded = wire.encode_stream_answer(wire.StreamAnswer(answer_id, answer, code, message))
    assert encoded == plain.SerializeToString()
    back = wire.decode_stream_answer(encoded)
    assert (back.id, back.code, back.message) == (answer_id, code, message)
    if chunks is None:
        assert back.answer is None
    else:
        assert back.answer is not None
        assert [(c.stripe_index, bytes(c.data), c.crc32c) for c in back.answer.chunks] == chunks


def test_a_stream_answer_sent_in_pieces_merges_as_generated() -> None:
    first = pb.ReadChunksStreamAnswer(
        id=4, answer=pb.ReadChunksResponse(chunks=[pb.Chunk(data=b"a")])
    )
    second = pb.ReadChunksStreamAnswer(
        id=5, answer=pb.ReadChunksResponse(chunks=[pb.Chunk(stripe_index=1, data=b"b")])
    )
    unknown = b"\x48\x09"  # field 9, a varint
    message = first.SerializeToString() + unknown + second.SerializeToString()
    plain = pb.ReadChunksStreamAnswer()
    plain.MergeFromString(first.SerializeToString() + second.SerializeToString())
    got = wire.decode_stream_answer(message)
    assert got.id == plain.id == 5
    assert got.answer is not None
    assert [(c.stripe_index, bytes(c.data)) for c in got.answer.chunks] == [
        (c.stripe_index, c.data) for c in plain.answer.chunks
    ]


@pytest.mark.parametrize("message", [b"\x12\x05ab", b"\x0a\x01x", b"\x22\x03ab", b"\x18"])
def test_a_malformed_stream_answer_is_a_wire_error(message: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_stream_answer(message)


@given(
    answers=st.lists(
        st.tuples(U64, st.lists(st.tuples(U64, DATA, U32), max_size=2), st.integers(0, 16)),
        max_size=4,
    )
)
def test_packed_stream_answers_are_encoded_as_generated(
    answers: list[tuple[int, list[tuple[int, bytes, int]], int]],
) -> None:
    plain = pb.ReadChunksPackedAnswers()
    sent = []
    for answer_id, chunks, code in answers:
        one = plain.answers.add(id=answer_id, code=code)
        one.answer.SetInParent()
        one.answer.chunks.extend(pb.Chunk(stripe_index=s, data=d, crc32c=c) for s, d, c in chunks)
        chunks_answer = wire.ChunksAnswer([wire.WireChunk(s, d, c) for s, d, c in chunks])
        sent.append(wire.StreamAnswer(answer_id, chunks_answer, code, ""))
    encoded = wire.encode_packed_stream_answers(sent)
    assert encoded == plain.SerializeToString()
    back = wire.decode_packed_stream_answers(encoded + b"\x48\x09")  # an unknown field too
    assert [(a.id, a.code) for a in back] == [(i, code) for i, _, code in answers]
    for got, (_, chunks, _) in zip(back, answers, strict=True):
        assert got.answer is not None
        assert [(c.stripe_index, bytes(c.data), c.crc32c) for c in got.answer.chunks] == chunks


@given(items=st.lists(st.tuples(U64, DATA, DATA), max_size=4))
def test_packed_whole_shard_items_are_encoded_as_generated(
    items: list[tuple[int, bytes, bytes]],
) -> None:
    plain = pb.PutWholeShardPackedRequests()
    sent = []
    for item_id, data, trailer in items:
        whole = pb.WholeShard(header=_header(), trailer=trailer)
        whole.chunk.data = data
        whole.chunk.crc32c = 7
        plain.writes.add(id=item_id, whole=whole)
        sent.append((item_id, wire.whole_from_pb(whole)))
    encoded = wire.encode_packed_whole_shard_items(sent)
    assert encoded == plain.SerializeToString()
    back = wire.decode_packed_whole_shard_items(encoded)
    assert [(i, bytes(w.chunk.data), bytes(w.trailer), w.header) for i, w in back] == [
        (i, d, t, _header()) for i, d, t in items
    ]


def test_a_malformed_packed_message_is_a_wire_error() -> None:
    with pytest.raises(wire.WireError):
        wire.decode_packed_stream_answers(b"\x0a\x05ab")  # an answer past the end
    with pytest.raises(wire.WireError):
        wire.decode_packed_whole_shard_items(b"\x08\x01")  # an item that is not a message
