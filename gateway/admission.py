"""Admission control: a bound on the body bytes all requests hold at once.

Each streaming request reserves the buffer it can hold at most (a stripe
being read, plus the chunks queued per shard) before it starts; when the
reservations would pass inflight_bytes_max the request is answered 503
SlowDown at once, so memory stays bounded under any load.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway import metrics
from tessera import errors
from tessera.geometry import Geometry


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


def write_buffer_bytes(geometry: Geometry, queue_chunks: int) -> int:
    """Most body bytes one PUT holds: the stripe being encoded and its chunks,
    plus queue_chunks chunks waiting for each shard."""
    n = geometry.total_shards
    return geometry.stripe_size_bytes + (1 + queue_chunks) * n * geometry.chunk_size_bytes


def read_buffer_bytes(geometry: Geometry) -> int:
    """Most body bytes one GET holds: one stripe's chunks and the stripe."""
    return 2 * geometry.total_shards * geometry.chunk_size_bytes
