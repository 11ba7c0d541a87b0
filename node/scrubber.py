"""The scrubber: re-reads every shard on a throttled schedule to find bit rot.

Each pass walks the store, verifies every chunk's CRC32C (and the header's)
in the executor, and sleeps as needed to stay under rate_bytes_per_second so
scrubbing never starves client I/O. A corrupt shard is quarantined (moved
aside, never deleted) and reported through on_corrupt, which queues its
repair. Passes repeat every pass_interval_seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from node import metrics
from node.errors import ShardCorrupt, ShardNotFound
from node.store import ShardStore

log = logging.getLogger(__name__)

CorruptReport = Callable[[str, int], Awaitable[None]]


class Scrubber:
    def __init__(
        self,
        store: ShardStore,
        executor: Executor,
        *,
        rate_bytes_per_second: float,
        pass_interval_seconds: float,
        on_corrupt: CorruptReport,
    ) -> None:
        assert rate_bytes_per_second > 0
        self._store = store
        self._executor = executor
        self.rate_bytes_per_second = rate_bytes_per_second
        self._interval_seconds = pass_interval_seconds
        self._on_corrupt = on_corrupt
        self.passes = 0

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            await self.scrub_once()
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self._interval_seconds - elapsed))

    async def scrub_once(self) -> list[tuple[str, int]]:
        """One full pass; returns the shards it found corrupt."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        budget_start = started
        read_total = 0
        found: list[tuple[str, int]] = []
        ids = await loop.run_in_executor(self._executor, lambda: list(self._store.shard_ids()))
        for version_id, shard_index in ids:
            try:
                read = await loop.run_in_executor(
                    self._executor, self._store.verify, version_id, shard_index
                )
            except ShardNotFound:
                continue  # deleted meanwhile
            except ShardCorrupt as exc:
                log.error("scrub: %s.%d is corrupt: %s", version_id, shard_index, exc)
                metrics.SCRUB_CORRUPT.inc()
                await loop.run_in_executor(
                    self._executor, self._store.quarantine, version_id, shard_index
                )
                found.append((version_id, shard_index))
                await self._report(version_id, shard_index)
                continue
            metrics.SCRUBBED_BYTES.inc(read)
            read_total += read
            # Throttle: never get ahead of rate_bytes_per_second.
            ahead = read_total / self.rate_bytes_per_second - (time.monotonic() - budget_start)
            if ahead > 0:
                await asyncio.sleep(ahead)
        self.passes += 1
        metrics.SCRUB_PASSES.inc()
        metrics.SCRUB_PASS_SECONDS.set(time.monotonic() - started)
        return found

    async def _report(self, version_id: str, shard_index: int) -> None:
        try:
            await self._on_corrupt(version_id, shard_index)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next pass cannot find it again: log loudly
            log.error("scrub: could not report %s.%d for repair: %s", version_id, shard_index, exc)
