"""The cluster page's panels: one async function per panel, each returning
the panel's JSON or raising NotAvailable with the reason it has no data.

The page asks for all panels at once (GET /console/api/cluster) and draws
each from its own key, so a panel that lands later (the repair queue, the
metadata replicas and their leader, objects by margin) is filled in by
replacing its one function here; the page already draws "not available yet"
with the reason, and nothing on the page is ever made up.

Invariant: a panel shows only what the gateway knows right now (its cached
cluster map, its own counters, its settings); no panel invents a number.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.console.rates import RateSampler
from gateway.state import GatewayState
from tessera.model import NODE_DOWN, NODE_DRAINING, NODE_UP


class NotAvailable(Exception):
    """The panel's data does not exist in Tessera yet (or not right now).

    reason is shown to the operator as is; details (optional) are facts that
    do exist and help, e.g. the configured metadata addresses.
    """

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass
class PanelContext:
    state: GatewayState
    rates: RateSampler
    wall_clock: Callable[[], float] = time.time


Panel = Callable[[PanelContext], Awaitable[dict[str, Any]]]


async def nodes_panel(ctx: PanelContext) -> dict[str, Any]:
    """Nodes and zones from the gateway's cluster map (refreshed every second)."""
    cluster = ctx.state.cluster
    if not cluster.loaded:
        raise NotAvailable("This gateway has not loaded the cluster map yet.")
    now = ctx.wall_clock()
    nodes = []
    zones: dict[str, dict[str, Any]] = {}
    for node in sorted(cluster.map.nodes, key=lambda n: (n.zone, n.node_id)):
        nodes.append(
            {
                "node_id": node.node_id,
                "zone": node.zone,
                "address": node.address,
                "state": node.state,
                "weight": node.weight,
                "capacity_bytes": node.capacity_bytes,
                "used_bytes": node.used_bytes,
                "heartbeat_age_seconds": (
                    round(max(0.0, now - node.last_heartbeat), 1) if node.last_heartbeat else None
                ),
            }
        )
        zone = zones.setdefault(
            node.zone,
            {
                "zone": node.zone,
                "nodes": [],
                NODE_UP: 0,
                NODE_DOWN: 0,
                NODE_DRAINING: 0,
                "capacity_bytes": 0,
                "used_bytes": 0,
            },
        )
        zone["nodes"].append(node.node_id)
        zone[node.state] = zone.get(node.state, 0) + 1
        zone["capacity_bytes"] += node.capacity_bytes
        zone["used_bytes"] += node.used_bytes
    policy = ctx.state.policy
    return {
        "epoch": cluster.map.epoch,
        "nodes": nodes,
        "zones": list(zones.values()),
        "geometry": {
            "data_shards": policy.geometry.data_shards,
            "parity_shards": policy.geometry.parity_shards,
            "chunk_size_bytes": policy.geometry.chunk_size_bytes,
            "write_quorum": policy.write_quorum,
        },
        "storage_classes": [
            {
                "name": name,
                "data_shards": p.geometry.data_shards,
                "parity_shards": p.geometry.parity_shards,
                "write_quorum": p.write_quorum,
            }
            for name, p in sorted(ctx.state.class_policies.items())
        ],
    }


PANEL_CALL_SECONDS = 3.0


async def metadata_panel(ctx: PanelContext) -> dict[str, Any]:
    """Metadata replicas: each one's applied log position and state digest
    (equal digests at equal positions: the replicas agree), and which one
    leads repair."""
    metadata = ctx.state.metadata
    replicas = await metadata.replica_statuses(timeout=PANEL_CALL_SECONDS)
    if not replicas:
        raise NotAvailable("No metadata replica answered.")
    repair = await metadata.repair_status(timeout=PANEL_CALL_SECONDS)
    return {
        "replicas": replicas,
        "repair_leader": repair.replica_id if repair is not None else None,
    }


async def _repair(ctx: PanelContext) -> Any:
    status = await ctx.state.metadata.repair_status(timeout=PANEL_CALL_SECONDS)
    if status is None:
        raise NotAvailable("No metadata replica leads repair right now (an election is due).")
    return status


async def repair_panel(ctx: PanelContext) -> dict[str, Any]:
    """The repair queue: its length in shards and bytes, rate, progress and ETA;
    and the rebalance onto added nodes: shards and bytes left and moved."""
    s = await _repair(ctx)
    return {
        "leader": s.replica_id,
        "queue_shards": s.queue_shards,
        "queue_bytes": s.queue_bytes,
        "blocked_shards": s.blocked_shards,
        "repaired_shards_total": s.repaired_shards_total,
        "repaired_bytes_total": s.repaired_bytes_total,
        "throughput_bytes_per_second": s.throughput_bytes_per_second,
        "rate_limit_bytes_per_second": s.rate_limit_bytes_per_second,
        "eta_seconds": s.eta_seconds if s.eta_seconds >= 0 else None,
        "last_scan_at": s.last_scan_at or None,
        # Moves onto new nodes (docs/repair.md): counted apart from repairs,
        # they are not missing redundancy.
        "rebalance_queue_shards": s.rebalance_queue_shards,
        "rebalance_queue_bytes": s.rebalance_queue_bytes,
        "rebalanced_shards_total": s.rebalanced_shards_total,
        "rebalanced_bytes_total": s.rebalanced_bytes_total,
    }


async def margins_panel(ctx: PanelContext) -> dict[str, Any]:
    """Shard sets counted by margin (spare shards left) and the ETA to full redundancy."""
    s = await _repair(ctx)
    return {
        "shard_sets_by_margin": {m.margin: m.shard_sets for m in s.margins},
        "eta_to_full_redundancy_seconds": s.eta_seconds if s.eta_seconds >= 0 else None,
    }


async def requests_panel(ctx: PanelContext) -> dict[str, Any]:
    """S3 request rates of this gateway, from its Prometheus counters."""
    return {"scope": "this gateway process", **ctx.rates.snapshot()}


PANELS: dict[str, Panel] = {
    "nodes": nodes_panel,
    "metadata": metadata_panel,
    "repair": repair_panel,
    "margins": margins_panel,
    "requests": requests_panel,
}


async def render_panel(panel: Panel, ctx: PanelContext) -> dict[str, Any]:
    """{"available": true, ...data} or {"available": false, "reason": ..., ...details}."""
    try:
        data = await panel(ctx)
    except NotAvailable as exc:
        return {"available": False, "reason": exc.reason, **exc.details}
    return {"available": True, **data}
