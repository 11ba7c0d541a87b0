"""Stripe and range arithmetic, checked against a naive byte-by-byte model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.geometry import Geometry, InvalidRange, parse_range, span_for_range


def test_stripe_counts_and_sizes() -> None:
    g = Geometry(4, 2, 256 * 1024)
    assert g.stripe_size_bytes == 1024 * 1024
    assert g.stripe_count(0) == 0
    assert g.stripe_count(1) == 1
    assert g.stripe_count(1024 * 1024) == 1
    assert g.stripe_count(1024 * 1024 + 1) == 2
    assert g.stripe_data_bytes(1024 * 1024 + 1, 1) == 1
    assert g.chunk_bytes(1024 * 1024 + 1, 1) == 1
    assert g.chunk_bytes(1024 * 1024 + 1, 0) == 256 * 1024
    assert g.shard_size_bytes(1024 * 1024 + 1) == 256 * 1024 + 1


@given(k=st.integers(1, 6), chunk=st.integers(1, 50), size=st.integers(1, 2000), data=st.data())
def test_span_covers_exactly_the_range(k: int, chunk: int, size: int, data: st.DataObject) -> None:
    g = Geometry(k, 2, chunk)
    first = data.draw(st.integers(0, size - 1))
    last = data.draw(st.integers(first, size - 1))
    span = span_for_range(g, first, last)
    payload = bytes(i % 251 for i in range(size))
    stripes = [
        payload[s * g.stripe_size_bytes : (s + 1) * g.stripe_size_bytes]
        for s in range(span.stripe_start, span.stripe_start + span.stripe_count)
    ]
    assert span.stripe_start + span.stripe_count <= g.stripe_count(size)
    joined = b"".join(stripes)
    assert (
        joined[span.skip_bytes : span.skip_bytes + span.length_bytes] == payload[first : last + 1]
    )


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=0-", 10, (0, 9)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=3-2", 10, None),
        ("bytes=0-1,4-5", 10, None),
        ("items=0-1", 10, None),
        ("bytes=a-b", 10, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(InvalidRange):
        parse_range(header, size)
