"""Codec round trip: any m chunks of a stripe may be lost."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.codec import NotEnoughShards, decode_stripe, encode_stripe
from tessera.geometry import Geometry


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(1, 8),
    m=st.integers(0, 4),
    chunk=st.integers(1, 64),
    data=st.data(),
)
def test_any_m_erasures_round_trip(k: int, m: int, chunk: int, data: st.DataObject) -> None:
    geometry = Geometry(k, m, chunk)
    size = data.draw(st.integers(1, geometry.stripe_size_bytes))
    payload = data.draw(st.binary(min_size=size, max_size=size))
    chunks = encode_stripe(payload, geometry)
    assert len(chunks) == k + m
    assert len({len(c) for c in chunks}) == 1
    erased = data.draw(st.sets(st.integers(0, k + m - 1), max_size=m))
    survivors = {i: c for i, c in enumerate(chunks) if i not in erased}
    assert decode_stripe(survivors, geometry, size) == payload


def test_every_pair_of_erasures_for_default_geometry() -> None:
    geometry = Geometry(4, 2, 1024)
    payload = bytes(range(256)) * 15 + b"tail"
    chunks = encode_stripe(payload, geometry)
    for erased in itertools.combinations(range(6), 2):
        survivors = {i: c for i, c in enumerate(chunks) if i not in erased}
        assert decode_stripe(survivors, geometry, len(payload)) == payload


def test_data_chunks_are_the_data() -> None:
    geometry = Geometry(4, 2, 4)
    payload = b"abcdefghijklmnop"
    assert encode_stripe(payload, geometry)[:4] == [b"abcd", b"efgh", b"ijkl", b"mnop"]


def test_too_few_chunks_raise() -> None:
    geometry = Geometry(4, 2, 8)
    chunks = encode_stripe(b"x" * 32, geometry)
    with pytest.raises(NotEnoughShards):
        decode_stripe({0: chunks[0], 5: chunks[5], 4: chunks[4]}, geometry, 32)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(1, 6), m=st.integers(1, 4), data=st.data())
def test_rebuild_recreates_lost_chunks_exactly(k: int, m: int, data: st.DataObject) -> None:
    from tessera.codec import rebuild_chunks

    geometry = Geometry(k, m, 32)
    size = data.draw(st.integers(1, geometry.stripe_size_bytes))
    payload = data.draw(st.binary(min_size=size, max_size=size))
    chunks = encode_stripe(payload, geometry)
    lost = data.draw(st.sets(st.integers(0, k + m - 1), min_size=1, max_size=m))
    survivors = {i: c for i, c in enumerate(chunks) if i not in lost}
    rebuilt = rebuild_chunks(survivors, geometry, size, sorted(lost))
    assert rebuilt == {i: chunks[i] for i in lost}
