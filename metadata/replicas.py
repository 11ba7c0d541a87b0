"""The metadata replicas' registry in etcd, and log compaction.

Each replica keeps ``<prefix>/replicas/<replica id>`` alive under a lease,
with its gRPC address and the last log revision it applied (refreshed every
PUBLISH_SECONDS). A replica that dies, hangs or is cut off loses its lease
after REPLICA_TTL_SECONDS and drops out of the registry.

Compaction: every replica's state at its applied revision is a snapshot of
the log up to there (a RocksDB checkpoint of it can be taken at any time and
streamed to a new replica), so the log entries every live replica has applied
are no longer needed. One replica (the live one with the smallest id)
compacts etcd to the smallest applied revision among the live replicas,
which deletes every older version of the log key. A replica that was not
live then and comes back behind that point finds the log compacted and
bootstraps from a peer's checkpoint. etcd's size therefore depends on the
uncompacted tail, never on how many objects exist.

Invariant: etcd is never compacted past a revision some live replica has not
applied durably: a replica publishes an applied revision only after an fsync
of its WAL that covers it (replicas apply without fsync), so even a power loss
of every replica at once loses nothing etcd no longer holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from metadata import metrics
from metadata.etcd import EtcdClient, EtcdError, prefix_end

log = logging.getLogger(__name__)

REPLICA_TTL_SECONDS = 10
PUBLISH_SECONDS = 2.0
CALL_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    replica_id: str
    address: str
    applied_revision: int


def compaction_target(applied: Sequence[int], compacted: int, min_step: int) -> int | None:
    """The revision to compact to, or None when not worth it yet (pure)."""
    if not applied:
        return None
    target = min(applied)
    if target - compacted < max(1, min_step):
        return None
    return target


class ReplicaRegistry:
    def __init__(
        self,
        etcd: EtcdClient,
        prefix: bytes,
        replica_id: str,
        address: str,
        applied: Callable[[], int],
        make_durable: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """applied: the last revision applied; make_durable: makes everything
        applied so far durable (None: applied revisions are durable already)."""
        self._etcd = etcd
        self._prefix = prefix
        self._replica_id = replica_id
        self._address = address
        self._applied = applied
        self._make_durable = make_durable

    async def replicas(self) -> list[ReplicaInfo]:
        """The live replicas (this one included, once it published)."""
        found = await self._etcd.range(
            self._prefix, range_end=prefix_end(self._prefix), timeout=CALL_TIMEOUT_SECONDS
        )
        out = []
        for kv in found.kvs:
            body = json.loads(kv.value)
            out.append(ReplicaInfo(body["id"], body["address"], int(body["applied"])))
        return out

    async def peers(self) -> list[ReplicaInfo]:
        """The other live replicas, most advanced first."""
        others = [r for r in await self.replicas() if r.replica_id != self._replica_id]
        return sorted(others, key=lambda r: -r.applied_revision)

    async def run(self) -> None:
        """Keeps this replica registered until cancelled (etcd outages are waited out)."""
        lease = 0
        published = -1
        while True:
            try:
                if (
                    lease
                    and await self._etcd.lease_keepalive(lease, timeout=CALL_TIMEOUT_SECONDS) <= 0
                ):
                    lease, published = 0, -1
                if not lease:
                    lease = await self._etcd.lease_grant(
                        REPLICA_TTL_SECONDS, timeout=CALL_TIMEOUT_SECONDS
                    )
                applied = self._applied()
                if applied != published and self._make_durable is not None:
                    await self._make_durable()  # read first, then sync: covers it
                if applied != published:
                    body = {"id": self._replica_id, "address": self._address, "applied": applied}
                    await self._etcd.put(
                        self._prefix + self._replica_id.encode(),
                        json.dumps(body).encode(),
                        lease=lease,
                        timeout=CALL_TIMEOUT_SECONDS,
                    )
                    published = applied
            except EtcdError as exc:
                log.warning("could not refresh this replica's registration: %s", exc)
            await asyncio.sleep(PUBLISH_SECONDS)

    async def compact_forever(self, log_key: bytes, interval_seconds: float, min_step: int) -> None:
        """Compacts etcd behind the slowest live replica, if this one is the compactor."""
        compacted = 0
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                live = await self.replicas()
                if not live or min(r.replica_id for r in live) != self._replica_id:
                    continue
                target = compaction_target([r.applied_revision for r in live], compacted, min_step)
                if target is None:
                    continue
                await self._etcd.compact(target, timeout=CALL_TIMEOUT_SECONDS)
                compacted = target
                metrics.COMPACTED_REVISION.set(target)
                status = await self._etcd.status(timeout=CALL_TIMEOUT_SECONDS)
                metrics.ETCD_DB_BYTES.set(status.db_size_bytes)
                log.info(
                    "compacted the log to revision %d (etcd db %d bytes)",
                    target,
                    status.db_size_bytes,
                )
            except EtcdError as exc:
                log.warning("log compaction skipped: %s", exc)
