"""gateway/write_path.py's stripe pipeline and gateway/admission.py's bound
on it: each digest sees the stripes in the order they were read even when
the executor would run its jobs out of order (_InOrder), a failed update
stops the ones after it, and the reservation covers the two moments the
pipeline is fullest."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.admission import sender_queue_chunks, write_buffer_bytes
from gateway.write_path import _InOrder
from tessera.geometry import Geometry

MIB = 1024 * 1024


def test_updates_run_in_submission_order_on_a_wide_executor() -> None:
    """The first update is the slowest: on an executor of eight threads the
    later ones would finish first if they were not chained."""
    seen: list[bytes] = []
    running = 0
    most_running = 0
    lock = threading.Lock()

    def update(data: bytes) -> None:
        nonlocal running, most_running
        with lock:
            running += 1
            most_running = max(most_running, running)
        time.sleep(0.05 if data == b"0" else 0.001)
        with lock:
            seen.append(data)
            running -= 1

    async def main() -> None:
        with ThreadPoolExecutor(max_workers=8) as executor:
            chain = _InOrder(asyncio.get_running_loop(), executor, update)
            jobs = [chain.submit(str(i).encode()) for i in range(6)]
            await asyncio.gather(*jobs)

    asyncio.run(main())
    assert seen == [str(i).encode() for i in range(6)]
    assert most_running == 1


def test_a_failed_update_fails_every_later_one_without_running_it() -> None:
    seen: list[bytes] = []

    def update(data: bytes) -> None:
        if data == b"1":
            raise ValueError("digest failed")
        seen.append(data)

    async def main() -> list[object]:
        with ThreadPoolExecutor(max_workers=4) as executor:
            chain = _InOrder(asyncio.get_running_loop(), executor, update)
            jobs = [chain.submit(str(i).encode()) for i in range(4)]
            return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] is None
    assert all(isinstance(r, ValueError) for r in results[1:])
    assert seen == [b"0"]


@pytest.mark.parametrize(
    ("k", "m", "chunk_bytes"), [(4, 2, MIB), (5, 4, MIB), (4, 2, 256 * 1024), (2, 1, 64 * 1024)]
)
def test_the_reservation_covers_both_full_moments_of_the_pipeline(
    k: int, m: int, chunk_bytes: int
) -> None:
    """Handing stripe i - 1 to the senders: stripe i and the chunks of both;
    reading stripe i + 1: stripes i and i + 1 and the chunks of i; queued
    chunks at either moment. A body of many stripes reserves the full
    pipeline (smaller ones: tests/unit/gateway/test_routing.py)."""
    geometry = Geometry(data_shards=k, parity_shards=m, chunk_size_bytes=chunk_bytes)
    stripe = geometry.stripe_size_bytes
    chunk_set = geometry.total_shards * chunk_bytes
    queued = sender_queue_chunks(chunk_bytes) * chunk_set
    handing = stripe + 2 * chunk_set + queued
    reading = 2 * stripe + chunk_set + queued
    assert write_buffer_bytes(geometry) == max(handing, reading)
    assert write_buffer_bytes(geometry, 64 * stripe) == write_buffer_bytes(geometry)
