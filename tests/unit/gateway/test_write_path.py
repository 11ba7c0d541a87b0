"""gateway/write_path.py's chunk_request and whole_request: the message each
builds in place is the one the obvious construction builds, byte for byte on
the wire."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from gateway.write_path import chunk_request, whole_request
from proto import tessera_pb2 as pb


@given(
    stripe_index=st.integers(min_value=0, max_value=2**32 - 1),
    data=st.binary(max_size=4096),
    crc=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_chunk_request_is_the_plain_message(stripe_index: int, data: bytes, crc: int) -> None:
    plain = pb.PutShardRequest(chunk=pb.Chunk(stripe_index=stripe_index, data=data, crc32c=crc))
    built = chunk_request(stripe_index, data, crc)
    assert built == plain
    assert built.WhichOneof("item") == plain.WhichOneof("item")
    assert built.SerializeToString() == plain.SerializeToString()


def test_a_full_chunk_round_trips() -> None:
    data = os.urandom(256 * 1024)
    wire = chunk_request(7, data, 12345).SerializeToString()
    parsed = pb.PutShardRequest.FromString(wire)
    assert (parsed.chunk.stripe_index, parsed.chunk.data, parsed.chunk.crc32c) == (7, data, 12345)


@given(
    data=st.binary(max_size=4096),
    crc=st.integers(min_value=0, max_value=2**32 - 1),
    stripe_count=st.integers(min_value=0, max_value=3),
)
def test_whole_request_is_the_plain_message(data: bytes, crc: int, stripe_count: int) -> None:
    header = pb.ShardHeader(
        bucket="b", key="k", version_id="v" * 26, shard_index=3, stripe_count=stripe_count
    )
    plain = pb.PutShardRequest(
        whole=pb.WholeShard(header=header, chunk=pb.Chunk(stripe_index=0, data=data, crc32c=crc))
    )
    built = whole_request(header, 0, data, crc)
    assert built == plain
    assert built.WhichOneof("item") == "whole"
    assert built.SerializeToString() == plain.SerializeToString()
