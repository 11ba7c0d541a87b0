"""Stripe geometry and byte-range arithmetic.

An object is cut into *stripes* of ``data_shards * chunk_size_bytes`` bytes
(the last one may be shorter). Each stripe is split into ``data_shards`` equal
*chunks* (the last stripe's chunks are ``ceil(remaining / data_shards)`` bytes,
zero-padded) and ``parity_shards`` parity chunks are computed from them. Shard
``i`` of an object is the sequence of chunk ``i`` of every stripe.

Invariant: for every stripe, all n chunks have the same length, and the data
bytes of the stripe are the concatenation of its data chunks, truncated to
``stripe_data_bytes(i)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Geometry:
    """Erasure-coding geometry of one object version."""

    data_shards: int
    parity_shards: int
    chunk_size_bytes: int

    def __post_init__(self) -> None:
        assert 1 <= self.data_shards <= 128, self.data_shards
        assert 0 <= self.parity_shards <= 128, self.parity_shards
        assert self.data_shards + self.parity_shards <= 256
        assert self.chunk_size_bytes > 0

    @property
    def total_shards(self) -> int:
        return self.data_shards + self.parity_shards

    @property
    def stripe_size_bytes(self) -> int:
        """Data bytes in every full stripe."""
        return self.data_shards * self.chunk_size_bytes

    def stripe_count(self, object_size_bytes: int) -> int:
        return -(-object_size_bytes // self.stripe_size_bytes)

    def stripe_data_bytes(self, object_size_bytes: int, stripe_index: int) -> int:
        """Data bytes carried by stripe stripe_index of an object of that size."""
        start = stripe_index * self.stripe_size_bytes
        assert 0 <= start < object_size_bytes, (stripe_index, object_size_bytes)
        return min(self.stripe_size_bytes, object_size_bytes - start)

    def chunk_bytes_for(self, stripe_data_bytes: int) -> int:
        """Length of each chunk of a stripe carrying stripe_data_bytes."""
        assert 0 < stripe_data_bytes <= self.stripe_size_bytes
        return -(-stripe_data_bytes // self.data_shards)

    def chunk_bytes(self, object_size_bytes: int, stripe_index: int) -> int:
        return self.chunk_bytes_for(self.stripe_data_bytes(object_size_bytes, stripe_index))

    def shard_size_bytes(self, object_size_bytes: int) -> int:
        """Bytes of chunk data in one shard of an object of that size."""
        count = self.stripe_count(object_size_bytes)
        if count == 0:
            return 0
        return (count - 1) * self.chunk_size_bytes + self.chunk_bytes(object_size_bytes, count - 1)


@dataclass(frozen=True, slots=True)
class StripeSpan:
    """The stripes a byte range touches, and where the range lies in them."""

    stripe_start: int
    stripe_count: int
    skip_bytes: int  # bytes to drop from the first stripe's data
    length_bytes: int  # bytes of the range


class InvalidRange(Exception):
    """The Range header cannot be satisfied for this object size."""


def parse_range(header: str, object_size_bytes: int) -> tuple[int, int] | None:
    """Parses an HTTP Range header against an object size.

    Returns the inclusive (first, last) byte positions, or None when the header
    should be ignored (syntactically invalid, or several ranges, which S3 does
    not support and answers with the whole object). Raises InvalidRange when
    the range is well-formed but unsatisfiable.
    """
    header = header.strip()
    if not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].strip()
    if "," in spec or "-" not in spec:
        return None
    first_text, last_text = (part.strip() for part in spec.split("-", 1))
    if first_text == "":
        if not last_text.isdigit():
            return None
        suffix = int(last_text)
        if suffix == 0 or object_size_bytes == 0:
            raise InvalidRange(header)
        return max(0, object_size_bytes - suffix), object_size_bytes - 1
    if not first_text.isdigit() or (last_text and not last_text.isdigit()):
        return None
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= object_size_bytes:
        raise InvalidRange(header)
    last = int(last_text) if last_text else object_size_bytes - 1
    return first, min(last, object_size_bytes - 1)


def span_for_range(geometry: Geometry, first: int, last: int) -> StripeSpan:
    """The stripes holding bytes first..last (inclusive) of an object."""
    assert 0 <= first <= last, (first, last)
    stripe_bytes = geometry.stripe_size_bytes
    stripe_start = first // stripe_bytes
    stripe_end = last // stripe_bytes
    return StripeSpan(
        stripe_start=stripe_start,
        stripe_count=stripe_end - stripe_start + 1,
        skip_bytes=first - stripe_start * stripe_bytes,
        length_bytes=last - first + 1,
    )
