"""The sealed-block layout: sizes, range spans and the block cipher, checked
against a naive reference (seal everything, slice the plaintext)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.codec import encode_stripe
from tessera.geometry import Geometry
from tessera.sse import (
    TAG_BYTES,
    BlockCipher,
    SealBroken,
    block_count,
    block_plain_bytes,
    block_size_bytes,
    sealed_size_bytes,
    span_for_plain_range,
)

GEOMETRY = Geometry(3, 2, 64)  # 192-byte stripes, 176 plaintext bytes per block
KEY = bytes(range(32))


def _seal_all(data: bytes, geometry: Geometry, cipher: BlockCipher) -> list[bytes]:
    blocks = block_count(len(data), geometry)
    plain = block_plain_bytes(geometry)
    return [
        cipher.seal(i, data[i * plain : (i + 1) * plain], i == blocks - 1) for i in range(blocks)
    ]


@given(size=st.integers(0, 2000), k=st.integers(1, 5), chunk=st.integers(17, 80))
def test_sealed_blocks_are_exactly_the_stripes(size: int, k: int, chunk: int) -> None:
    geometry = Geometry(k, 1, chunk)
    sealed_size = sealed_size_bytes(size, geometry)
    assert sealed_size == size + TAG_BYTES * block_count(size, geometry)
    assert geometry.stripe_count(sealed_size) == block_count(size, geometry)
    for i in range(block_count(size, geometry)):
        assert geometry.stripe_data_bytes(sealed_size, i) == (
            block_size_bytes(size, geometry, i) + TAG_BYTES
        )


@settings(max_examples=200)
@given(size=st.integers(1, 1500), data=st.data())
def test_plain_range_spans_match_a_naive_reference(size: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, size - 1))
    last = data.draw(st.integers(first, size - 1))
    body = os.urandom(size)
    cipher = BlockCipher(KEY, "set-1")
    sealed = _seal_all(body, GEOMETRY, cipher)
    span = span_for_plain_range(GEOMETRY, first, last)
    blocks = block_count(size, GEOMETRY)
    opened = b"".join(
        cipher.open(i, sealed[i], i == blocks - 1)
        for i in range(span.stripe_start, span.stripe_start + span.stripe_count)
    )
    assert opened[span.skip_bytes : span.skip_bytes + span.length_bytes] == body[first : last + 1]
    assert span.stripe_start + span.stripe_count <= blocks


def test_tampering_reordering_and_truncation_fail_the_tag() -> None:
    cipher = BlockCipher(KEY, "set-1")
    body = os.urandom(3 * block_plain_bytes(GEOMETRY))
    sealed = _seal_all(body, GEOMETRY, cipher)
    flipped = bytearray(sealed[1])
    flipped[5] ^= 1
    with pytest.raises(SealBroken):
        cipher.open(1, bytes(flipped), False)
    with pytest.raises(SealBroken):  # block 0 served in place of block 1
        cipher.open(1, sealed[0], False)
    with pytest.raises(SealBroken):  # a stream cut after block 1 does not end there
        cipher.open(1, sealed[1], True)
    with pytest.raises(SealBroken):  # another shard set's key
        BlockCipher(KEY, "set-2").open(0, sealed[0], False)
    with pytest.raises(SealBroken):  # another data key
        BlockCipher(bytes(32), "set-1").open(0, sealed[0], False)
    assert cipher.open(2, sealed[2], True) == body[2 * block_plain_bytes(GEOMETRY) :]


def test_no_chunk_of_a_sealed_stripe_holds_the_plaintext() -> None:
    marker = b"PLAINTEXT-MARKER"
    body = marker * (block_plain_bytes(GEOMETRY) // len(marker))
    sealed = _seal_all(body, GEOMETRY, BlockCipher(KEY, "set-1"))
    for stripe in sealed:
        for chunk in encode_stripe(stripe, GEOMETRY):
            assert marker[:8] not in chunk
