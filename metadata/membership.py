"""Liveness of storage nodes in etcd: one key per node under a lease.

A node registering (through any metadata replica) gets a fresh lease whose
TTL is the grace period and its key ``<prefix>/nodes/live/<node id>`` (value:
the node record as JSON) put under it; the revision of that put is the node's
registration revision. Each heartbeat (again through any replica) refreshes
the lease. A node that stops heartbeating loses its lease after the grace
period and etcd deletes the key; so does one whose replica path is cut off.

Which nodes are alive is then one linearizable range of the prefix, the same
for every replica; liveness.corrections() turns it into log entries.

Invariants: a heartbeat for a node without a live lease fails with
InvalidRequest, so the node registers again (node/membership.py); no lease
outlives its TTL without a heartbeat.
"""

# ruff: noqa: ASYNC109  (timeout is the caller's deadline)

from __future__ import annotations

import dataclasses
import json
import math

from metadata.etcd import EtcdClient, EtcdError, prefix_end
from metadata.liveness import LiveSet
from tessera import errors
from tessera.model import NodeInfo

LEASE_TTL_MIN_SECONDS = 2  # etcd's own minimum with its default election timeout


class EtcdLiveness:
    def __init__(self, etcd: EtcdClient, prefix: bytes, grace_seconds: float) -> None:
        self._etcd = etcd
        self._prefix = prefix
        self._ttl = max(LEASE_TTL_MIN_SECONDS, math.ceil(grace_seconds))

    def _key(self, node_id: str) -> bytes:
        return self._prefix + node_id.encode()

    async def register(self, node: NodeInfo, *, timeout: float) -> int:
        """Puts the node's live key under a new lease; returns its revision."""
        try:
            lease = await self._etcd.lease_grant(self._ttl, timeout=timeout)
            value = json.dumps(dataclasses.asdict(node), separators=(",", ":")).encode()
            revision = await self._etcd.put(
                self._key(node.node_id), value, lease=lease, timeout=timeout
            )
        except EtcdError as exc:
            raise errors.ServiceUnavailable(f"etcd: {exc}") from exc
        # The old lease (if any) now holds no key and simply expires.
        return revision

    async def heartbeat(self, node_id: str, *, timeout: float) -> None:
        # The key's lease is looked up every time: the node may have registered
        # again through another replica, leaving an older lease with no key.
        try:
            _, kv = await self._etcd.get(self._key(node_id), timeout=timeout)
            if kv is None or not kv.lease:
                raise errors.InvalidRequest(f"node {node_id!r} is not alive; register again")
            ttl = await self._etcd.lease_keepalive(kv.lease, timeout=timeout)
        except EtcdError as exc:
            raise errors.ServiceUnavailable(f"etcd: {exc}") from exc
        if ttl <= 0:
            raise errors.InvalidRequest(f"node {node_id!r} lease expired; register again")

    async def live_set(self, *, timeout: float) -> LiveSet:
        try:
            found = await self._etcd.range(
                self._prefix, range_end=prefix_end(self._prefix), timeout=timeout
            )
        except EtcdError as exc:
            raise errors.ServiceUnavailable(f"etcd: {exc}") from exc
        alive = {kv.key[len(self._prefix) :].decode(): kv.mod_revision for kv in found.kvs}
        return LiveSet(found.revision, alive)
