"""Reporting corrupt shards to metadata, so the repair scheduler rebuilds them.

The scrubber and GetShard quarantine a corrupt shard first (it is never
served again), then hand it here. Reports wait in a bounded queue and are
sent by one task in the node's lifetime, retried with backoff until
metadata takes them (ReportShardProblem is idempotent). When the queue is
full a report is dropped and logged: the shard stays quarantined, and the
next read that misses it degrades to parity until an operator or a later
scrub of a peer notices — a full queue means metadata has been unreachable
for a long time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

from node import metrics
from tessera import errors, limits

log = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
KIND_CORRUPT = "corrupt"


@runtime_checkable
class ProblemClient(Protocol):
    async def report_shard_problem(
        self,
        shard_set_id: str,
        shard_index: int,
        node_id: str,
        kind: str,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> None: ...


class ProblemReporter:
    def __init__(self, client: ProblemClient | None, node_id: str) -> None:
        self._client = client
        self._node_id = node_id
        self._queue: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue(
            limits.PROBLEM_REPORTS_QUEUED_MAX
        )

    def report_nowait(self, shard_set_id: str, shard_index: int, kind: str = KIND_CORRUPT) -> None:
        try:
            self._queue.put_nowait((shard_set_id, shard_index, kind))
        except asyncio.QueueFull:
            log.error(
                "report queue full: %s.%d (%s) stays quarantined unreported",
                shard_set_id,
                shard_index,
                kind,
            )

    async def report(self, shard_set_id: str, shard_index: int) -> None:
        """The scrubber's on_corrupt: queues the report."""
        self.report_nowait(shard_set_id, shard_index)

    async def run(self) -> None:
        while True:
            shard_set_id, shard_index, kind = await self._queue.get()
            backoff = BACKOFF_MIN_SECONDS
            while self._client is not None:
                try:
                    await self._client.report_shard_problem(
                        shard_set_id,
                        shard_index,
                        self._node_id,
                        kind,
                        timeout=limits.METADATA_CALL_TIMEOUT_SECONDS,
                    )
                    metrics.PROBLEMS_REPORTED.inc()
                    log.info("reported %s shard %s.%d for repair", kind, shard_set_id, shard_index)
                    break
                except errors.TesseraError as exc:
                    log.warning("reporting %s.%d failed: %s", shard_set_id, shard_index, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
