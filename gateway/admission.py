"""Admission control: a bound on the body bytes all requests hold at once.

Each streaming request reserves the buffer it can hold at most (a stripe
being read, plus the chunks queued per shard) before it starts; when the
reservations would pass inflight_bytes_max the request is answered 503
SlowDown at once, so memory stays bounded under any load.

A body whose size is known up front (Content-Length, the decoded length of
an aws-chunked body, a copy source, a stored object) reserves no more than a
body of that size can occupy: a 4 KiB PUT holds a few KiB, not the ~10 MiB a
full stripe pipeline may, so many small requests at once are not refused for
bytes they could never hold (docs/gateway.md, "Admission").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway import metrics
from tessera import errors
from tessera.geometry import Geometry
from tessera.sse import sealed_size_bytes


class Admission:
    def __init__(self, inflight_bytes_max: int) -> None:
        self._limit_bytes = inflight_bytes_max
        self._used_bytes = 0

    @contextmanager
    def reserve(self, n_bytes: int) -> Iterator[None]:
        if self._used_bytes + n_bytes > self._limit_bytes and self._used_bytes > 0:
            raise errors.SlowDown()
        self._used_bytes += n_bytes
        metrics.INFLIGHT_BYTES.set(self._used_bytes)
        try:
            yield
        finally:
            self._used_bytes -= n_bytes
            metrics.INFLIGHT_BYTES.set(self._used_bytes)


# Chunks waiting for each shard's sender (gateway/write_path.py): about this
# many bytes of them, at least one — 4 chunks of the default 256 KiB, 1 of 1 MiB.
SENDER_QUEUE_BYTES = 1024 * 1024


def sender_queue_chunks(chunk_size_bytes: int) -> int:
    return max(1, SENDER_QUEUE_BYTES // chunk_size_bytes)


def write_buffer_bytes(geometry: Geometry, body_size_bytes: int | None = None) -> int:
    """Most body bytes one PUT holds (_pipeline_bytes), with
    sender_queue_chunks() chunks waiting for each shard. With the body's
    size known, no more than a body of that size can occupy."""
    queue_chunks = sender_queue_chunks(geometry.chunk_size_bytes)
    set_bytes = geometry.total_shards * geometry.chunk_size_bytes
    full = _pipeline_bytes(geometry.stripe_size_bytes, set_bytes, None, queue_chunks)
    if body_size_bytes is None:
        return full
    shape = _stored_shape(geometry, body_size_bytes)
    if shape is None:
        return 0
    stripes, stripe_bytes, set_bytes = shape
    return min(full, _pipeline_bytes(stripe_bytes, set_bytes, stripes, queue_chunks))


def _pipeline_bytes(
    stripe_bytes: int, chunk_set_bytes: int, stripes: int | None, queue_chunks: int
) -> int:
    """What the write pipeline (write_path._stream_stripes) holds at its
    fullest: while stripe i - 1 is handed to the senders, stripe i and the
    chunks of both; while stripe i + 1 is read, stripes i and i + 1 and the
    chunks of i; at either moment queue_chunks chunks queued per shard. Never
    more stripes or chunk sets than the body has (stripes; None: unbounded)."""

    def at_most(count: int) -> int:
        return count if stripes is None else min(count, stripes)

    handing = stripe_bytes + at_most(queue_chunks + 2) * chunk_set_bytes
    reading = at_most(2) * stripe_bytes + at_most(queue_chunks + 1) * chunk_set_bytes
    return max(handing, reading)


def read_buffer_bytes(geometry: Geometry, object_size_bytes: int | None = None) -> int:
    """Most body bytes one GET holds: one stripe's chunks and the stripe. With
    the object's size known, no more than an object of that size can occupy."""
    full = 2 * geometry.total_shards * geometry.chunk_size_bytes
    if object_size_bytes is None:
        return full
    return min(full, _sized_bytes(geometry, 1, object_size_bytes))


def _sized_bytes(geometry: Geometry, stripes_in_flight: int, size_bytes: int) -> int:
    """A bound on what a body of size_bytes can occupy: its stored size read
    into at most two stripes at once, and the chunks of at most
    stripes_in_flight stripes."""
    shape = _stored_shape(geometry, size_bytes)
    if shape is None:
        return 0
    stripes, stripe_bytes, set_bytes = shape
    return min(2, stripes) * stripe_bytes + min(stripes_in_flight, stripes) * set_bytes


def _stored_shape(geometry: Geometry, size_bytes: int) -> tuple[int, int, int] | None:
    """(stripes, bytes of the largest stripe, bytes of its chunks, every
    shard's) of a body of size_bytes as stored — a sealed stream is a little
    larger; counted for every body, a few bytes too many for a plain one —
    or None for an empty body. No chunk is larger than the first stripe's,
    so that stripe's chunk length bounds them all."""
    stored_bytes = sealed_size_bytes(size_bytes, geometry)
    if stored_bytes <= 0:
        return None
    stripes = geometry.stripe_count(stored_bytes)
    stripe_bytes = min(stored_bytes, geometry.stripe_size_bytes)
    return stripes, stripe_bytes, geometry.total_shards * geometry.chunk_bytes(stored_bytes, 0)
