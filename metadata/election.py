"""Which metadata replica schedules repair: a leader key in etcd under a lease.

A replica campaigns by creating ``<prefix>/meta/repair-leader`` (value: its
replica id) under a lease of REPAIR_LEADER_TTL_SECONDS, only if the key does
not exist; while it leads it refreshes the lease every third of the TTL. A
leader that cannot refresh in time (cut off, paused, crashed) loses the key
when the lease expires, and another replica takes over.

Invariant: is_leader is true only while the lease was last refreshed less
than a TTL ago (checked against the local clock); a leadership handover may
overlap by at most that — repair stays correct then, because rebuilds are
idempotent and placement changes are compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
import time

from metadata.etcd import EtcdClient, EtcdError
from tessera import limits

log = logging.getLogger(__name__)

CALL_SECONDS = 3.0


def still_leading(renewed_at: float, now: float, ttl_seconds: float) -> bool:
    """A lease refreshed at renewed_at may have expired by now (pure)."""
    return renewed_at > 0 and now - renewed_at < ttl_seconds


class Leadership:
    """Always the leader: the single-replica service has no one to share with."""

    def __init__(self, replica_id: str) -> None:
        self.replica_id = replica_id

    @property
    def is_leader(self) -> bool:
        return True

    async def run(self) -> None:
        await asyncio.Event().wait()


class EtcdLeadership(Leadership):
    def __init__(
        self,
        etcd: EtcdClient,
        key: bytes,
        replica_id: str,
        ttl_seconds: int = limits.REPAIR_LEADER_TTL_SECONDS,
    ) -> None:
        super().__init__(replica_id)
        self._etcd = etcd
        self._key = key
        self._ttl = ttl_seconds
        self._lease = 0
        self._renewed_at = 0.0

    @property
    def is_leader(self) -> bool:
        return still_leading(self._renewed_at, time.monotonic(), self._ttl)

    async def run(self) -> None:
        try:
            while True:
                try:
                    if self._lease:
                        await self._renew()
                    else:
                        await self._campaign()
                except EtcdError as exc:
                    log.warning("repair leadership: %s", exc)
                await asyncio.sleep(self._ttl / 3)
        finally:
            if self._lease:  # hand over at once instead of after the TTL
                lease, self._lease, self._renewed_at = self._lease, 0, 0.0
                try:
                    await asyncio.shield(self._etcd.lease_revoke(lease, timeout=CALL_SECONDS))
                except (EtcdError, asyncio.CancelledError):
                    pass

    async def _campaign(self) -> None:
        started = time.monotonic()
        lease = await self._etcd.lease_grant(self._ttl, timeout=CALL_SECONDS)
        created, holder = await self._etcd.put_if_absent(
            self._key, self.replica_id.encode(), lease=lease, timeout=CALL_SECONDS
        )
        if created:
            self._lease, self._renewed_at = lease, started
            log.info("replica %s now schedules repair", self.replica_id)
            return
        await self._etcd.lease_revoke(lease, timeout=CALL_SECONDS)
        if holder is not None and holder.value == self.replica_id.encode():
            # Our own key from before a restart: it expires with its old lease.
            log.info("waiting for this replica's previous repair lease to expire")

    async def _renew(self) -> None:
        started = time.monotonic()
        ttl = await self._etcd.lease_keepalive(self._lease, timeout=CALL_SECONDS)
        if ttl <= 0:
            log.warning("replica %s lost repair leadership", self.replica_id)
            self._lease, self._renewed_at = 0, 0.0
            return
        self._renewed_at = started
