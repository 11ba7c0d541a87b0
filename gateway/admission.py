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
    """Most body bytes one PUT holds: the stripe being encoded and its chunks,
    plus sender_queue_chunks() chunks waiting for each shard. With the body's
    size known, no more than a body of that size can occupy (see _sized_bytes)."""
    queue_chunks = sender_queue_chunks(geometry.chunk_size_bytes)
    n = geometry.total_shards
    full = geometry.stripe_size_bytes + (1 + queue_chunks) * n * geometry.chunk_size_bytes
    if body_size_bytes is None:
        return full
    return min(full, _sized_bytes(geometry, 1 + queue_chunks, body_size_bytes))


def read_buffer_bytes(geometry: Geometry, object_size_bytes: int | None = None) -> int:
    """Most body bytes one GET holds: one stripe's chunks and the stripe. With
    the object's size known, no more than an object of that size can occupy."""
    full = 2 * geometry.total_shards * geometry.chunk_size_bytes
    if object_size_bytes is None:
        return full
    return min(full, _sized_bytes(geometry, 1, object_size_bytes))


def _sized_bytes(geometry: Geometry, stripes_in_flight: int, size_bytes: int) -> int:
    """A bound on what a body of size_bytes can occupy: its stored size (a
    sealed stream is a little larger; counted for every body, a few bytes too
    many for a plain one) read into at most two stripes at once, and the
    chunks of at most stripes_in_flight stripes. No chunk is larger than the
    first stripe's, so that stripe's chunk length bounds them all."""
    stored_bytes = sealed_size_bytes(size_bytes, geometry)
    if stored_bytes <= 0:
        return 0
    stripes = geometry.stripe_count(stored_bytes)
    stripe_bytes = min(stored_bytes, geometry.stripe_size_bytes)
    chunk_bytes = geometry.chunk_bytes(stored_bytes, 0)
    return (
        min(2, stripes) * stripe_bytes
        + min(stripes_in_flight, stripes) * geometry.total_shards * chunk_bytes
    )
