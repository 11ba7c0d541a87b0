"""Codec round trip: any m chunks of a stripe may be lost; parity through
ISA-L is zfec's, byte for byte."""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera import isal
from tessera.codec import (
    NotEnoughShards,
    decode_stripe,
    encode_stripe,
    parity_coefficients,
    zfec_parity,
)
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


needs_isal = pytest.mark.skipif(not isal.available(), reason="libisal is not installed")


@needs_isal
@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 128), m=st.integers(1, 128), length=st.integers(0, 300), data=st.data())
def test_isal_parity_is_byte_for_byte_zfecs(
    k: int, m: int, length: int, data: st.DataObject
) -> None:
    geometry = Geometry(k, m, max(1, length))
    chunks = [data.draw(st.binary(min_size=length, max_size=length)) for _ in range(k)]
    assert isal.ParityTables(parity_coefficients(k, k + m)).encode(chunks) == zfec_parity(
        chunks, geometry
    )


@needs_isal
@pytest.mark.parametrize(("k", "m"), [(4, 2), (5, 4), (2, 1), (4, 1), (8, 4), (10, 4), (1, 1)])
def test_the_offered_geometries_encode_as_zfec_does_on_full_chunks(
    k: int, m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    geometry = Geometry(k, m, 256 * 1024)
    payload = os.urandom(geometry.stripe_size_bytes - 12345)  # a short last chunk, padded
    chunks = encode_stripe(payload, geometry)  # through ISA-L
    assert chunks[k:] == zfec_parity(chunks[:k], geometry)
    # and zfec decodes what ISA-L encoded, with the first m chunks lost
    monkeypatch.setattr(isal, "available", lambda: False)
    survivors = {i: c for i, c in enumerate(chunks) if i >= m}
    assert decode_stripe(survivors, geometry, len(payload)) == payload


def test_parity_coefficients_reproduce_zfec_by_hand() -> None:
    """The coefficients read off zfec, applied with a schoolbook GF(2^8)
    multiply (polynomial 0x11d), give zfec's parity."""

    def gf_mul(a: int, b: int) -> int:
        out = 0
        while b:
            if b & 1:
                out ^= a
            a <<= 1
            if a & 0x100:
                a ^= 0x11D
            b >>= 1
        return out

    k, m = 5, 4
    geometry = Geometry(k, m, 16)
    chunks = [os.urandom(16) for _ in range(k)]
    rows = parity_coefficients(k, k + m)
    by_hand = [
        bytes(
            functools.reduce(lambda acc, i: acc ^ gf_mul(row[i], chunks[i][b]), range(k), 0)
            for b in range(16)
        )
        for row in rows
    ]
    assert by_hand == zfec_parity(chunks, geometry)


def test_the_switch_turns_isal_off() -> None:
    probe = "from tessera import isal; print(isal.available())"
    env = {**os.environ, "TESSERA_EC_ISAL": "0"}
    off = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert off.stdout.strip() == "False", off.stderr


@pytest.mark.parametrize("engine", ["isal", "zfec"])
@pytest.mark.parametrize(("k", "m"), [(4, 2), (5, 4), (2, 1), (3, 3)])
def test_every_erasure_pattern_decodes_with_either_engine(
    engine: str, k: int, m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine == "isal" and not isal.available():
        pytest.skip("libisal is not installed")
    monkeypatch.setattr(isal, "available", lambda: engine == "isal")
    geometry = Geometry(k, m, 1000)
    payload = os.urandom(geometry.stripe_size_bytes - 77)
    chunks = encode_stripe(payload, geometry)
    for lost in range(1, m + 1):
        for erased in itertools.combinations(range(k + m), lost):
            survivors = {i: memoryview(c) for i, c in enumerate(chunks) if i not in erased}
            assert decode_stripe(survivors, geometry, len(payload)) == payload, erased


@needs_isal
def test_isal_inverts_matrices_and_refuses_singular_ones() -> None:
    rows = parity_coefficients(3, 6)  # a 3x3 block of an MDS code: invertible
    inverse = isal.invert(rows)
    assert isal.invert(inverse) == rows
    with pytest.raises(ValueError, match="singular"):
        isal.invert([[1, 2], [1, 2]])


@needs_isal
def test_isal_refuses_chunks_of_different_lengths() -> None:
    tables = isal.ParityTables(parity_coefficients(2, 3))
    with pytest.raises(ValueError, match="different lengths"):
        tables.encode([b"abcd", b"ab"])
    with pytest.raises(ValueError, match="3 chunks for 2 sources"):
        tables.encode([b"ab", b"cd", b"ef"])
