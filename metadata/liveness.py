"""Node liveness: who is alive, and the log corrections that keep the map in step.

The cluster map itself (registered nodes, their effective state, the epoch)
is state: it changes only through RegisterNode and NodeLiveness mutations
applied in log order, so every replica shows the same map at the same
position. What is alive right now comes from a liveness source:

- with etcd (the replicated service), a node's key under a lease whose TTL is
  the grace period; heartbeats keep the lease alive; a silent node's lease
  expires and etcd deletes the key (metadata/membership.py);
- without etcd (a single-replica service), LocalLiveness below: heartbeat
  times kept in memory, a node silent past the grace period is gone.

Either way a LiveSet says which nodes are alive as of a source revision (for a
node: the revision of its registration), and corrections() turns the
difference between the applied map and the live set into NodeLiveness
mutations. A stale correction is harmless: the state applies an observation
only if it is newer than the one it holds.

Invariant (LocalLiveness): revisions only increase, across restarts too; a node is alive from its
registration until it has been silent for more than grace_seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from metadata.mutations import NodeLiveness
from tessera import errors
from tessera.model import NODE_DOWN, ClusterMapView


@dataclass(frozen=True, slots=True)
class LiveSet:
    revision: int  # the source's revision this set was read at
    alive: Mapping[str, int] = field(default_factory=dict)  # node id -> its registration revision


def corrections(view: ClusterMapView, live: LiveSet) -> list[NodeLiveness]:
    """The NodeLiveness mutations that bring the map in line with the live set."""
    found = []
    for node in view.nodes:
        registered_at = live.alive.get(node.node_id)
        if registered_at is not None and node.state == NODE_DOWN:
            found.append(NodeLiveness("", node.node_id, True, registered_at))
        elif registered_at is None and node.state != NODE_DOWN:
            found.append(NodeLiveness("", node.node_id, False, live.revision))
    return found


class LocalLiveness:
    """Heartbeats in memory, for the single-replica service (pure: callers pass now)."""

    def __init__(self, grace_seconds: float, initial_revision: int = 0) -> None:
        """initial_revision must exceed every revision an earlier process handed
        out (callers seed it from the clock in milliseconds)."""
        assert grace_seconds > 0
        self._grace_seconds = grace_seconds
        self._revision = initial_revision
        self._registered_at: dict[str, int] = {}
        self._last_seen: dict[str, float] = {}

    def load(self, node_ids: list[str], now: float) -> None:
        """Takes the registered nodes at startup; each starts a fresh grace period."""
        self._revision += 1
        for node_id in node_ids:
            self._registered_at[node_id] = self._revision
            self._last_seen[node_id] = now

    def register(self, node_id: str, now: float) -> int:
        self._expire(now)
        self._revision += 1
        self._registered_at[node_id] = self._revision
        self._last_seen[node_id] = now
        return self._revision

    def heartbeat(self, node_id: str, now: float) -> None:
        self._expire(now)
        if node_id not in self._registered_at:
            raise errors.InvalidRequest(f"node {node_id!r} is not registered; register first")
        self._last_seen[node_id] = now

    def live_set(self, now: float) -> LiveSet:
        self._expire(now)
        return LiveSet(self._revision, dict(self._registered_at))

    def _expire(self, now: float) -> None:
        gone = [n for n, seen in self._last_seen.items() if now - seen > self._grace_seconds]
        if gone:
            self._revision += 1
        for node_id in gone:
            del self._last_seen[node_id]
            del self._registered_at[node_id]
