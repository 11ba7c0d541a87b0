"""gateway/write_path.py's chunk_request: the message it builds in place is
the one the obvious construction builds, byte for byte on the wire."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from gateway.write_path import chunk_request
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
