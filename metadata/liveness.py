"""Node liveness and the cluster map built from it (pure logic: callers pass now).

Registered nodes are durable (the RegisterNode mutation); heartbeats are kept
here only, in memory, and never logged. A node is "down" once it has been
silent for more than grace_seconds; otherwise it has its registered state
("up", or "draining" as an operator set it). Times are wall-clock seconds
(time.time()), the unit of NodeInfo.last_heartbeat. After a restart every
registered node gets a fresh grace period rather than being reported down.

Invariant: the map's epoch increases whenever a node joins, a node's record
(zone, address, weight, registered state) changes, or any node's effective
state changes; it never decreases. Callers seed it (e.g. from the clock in
milliseconds) so that it also keeps increasing across a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from tessera import errors
from tessera.model import NODE_DOWN, ClusterMapView, NodeInfo


@dataclass(frozen=True, slots=True)
class Transition:
    node_id: str
    old_state: str  # "" for a node that just joined
    new_state: str


class Liveness:
    def __init__(self, grace_seconds: float, initial_epoch: int = 1) -> None:
        assert grace_seconds > 0
        self._grace_seconds = grace_seconds
        self._epoch = initial_epoch
        self._nodes: dict[str, NodeInfo] = {}  # as registered; usage and heartbeat kept fresh
        self._shown: dict[str, str] = {}  # effective state as of the last refresh

    @property
    def epoch(self) -> int:
        return self._epoch

    def load(self, nodes: Iterable[NodeInfo], now: float) -> None:
        """Takes the registered nodes at startup; each starts a fresh grace period."""
        for node in nodes:
            self._nodes[node.node_id] = replace(node, last_heartbeat=now)
        self.refresh(now)

    def registered(self, node: NodeInfo, now: float) -> list[Transition]:
        """Records a (re-)registration, which also counts as a heartbeat."""
        previous = self._nodes.get(node.node_id)
        self._nodes[node.node_id] = replace(node, last_heartbeat=now)
        changed = previous is None or _placement_fields(previous) != _placement_fields(node)
        if changed:
            self._epoch += 1
        return self.refresh(now, epoch_bumped=changed)

    def heartbeat(
        self, node_id: str, capacity_bytes: int, used_bytes: int, now: float
    ) -> list[Transition]:
        node = self._nodes.get(node_id)
        if node is None:
            raise errors.InvalidRequest(f"node {node_id!r} is not registered; register first")
        self._nodes[node_id] = replace(
            node, capacity_bytes=capacity_bytes, used_bytes=used_bytes, last_heartbeat=now
        )
        return self.refresh(now)

    def refresh(self, now: float, epoch_bumped: bool = False) -> list[Transition]:
        """Recomputes every node's state; bumps the epoch if any changed."""
        transitions = []
        for node_id, node in self._nodes.items():
            state = self._state_of(node, now)
            old = self._shown.get(node_id, "")
            if state != old:
                transitions.append(Transition(node_id, old, state))
                self._shown[node_id] = state
        if transitions and not epoch_bumped:
            self._epoch += 1
        return transitions

    def view(self, now: float) -> ClusterMapView:
        self.refresh(now)
        nodes = tuple(
            replace(self._nodes[node_id], state=self._shown[node_id])
            for node_id in sorted(self._nodes)
        )
        return ClusterMapView(epoch=self._epoch, nodes=nodes)

    def counts_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self._shown.values():
            counts[state] = counts.get(state, 0) + 1
        return counts

    def _state_of(self, node: NodeInfo, now: float) -> str:
        if now - node.last_heartbeat > self._grace_seconds:
            return NODE_DOWN
        return node.state


def _placement_fields(node: NodeInfo) -> tuple[str, str, float, str]:
    return (node.zone, node.address, node.weight, node.state)
