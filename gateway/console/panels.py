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
    }


async def metadata_panel(ctx: PanelContext) -> dict[str, Any]:
    """Metadata replicas, their applied positions and the log's leader.

    Fill in when replicated metadata (the etcd shared log) lands: ask each
    replica for its status and etcd for its leader.
    """
    raise NotAvailable(
        "Replica status and the leader are not available yet: replicated metadata "
        "(the etcd shared log) is being built. Shown: the metadata addresses this "
        "gateway is configured with.",
        configured_addresses=[
            a.strip() for a in ctx.state.settings.metadata_address.split(",") if a.strip()
        ],
    )


async def repair_panel(ctx: PanelContext) -> dict[str, Any]:
    """The repair queue: length, rate, progress and ETA.

    Fill in when repair lands: read its queue from metadata.
    """
    raise NotAvailable(
        "The repair queue does not exist yet: background repair is not built. "
        "Until it is, shards on a node that goes down are not rebuilt elsewhere "
        "(reads decode from parity meanwhile)."
    )


async def margins_panel(ctx: PanelContext) -> dict[str, Any]:
    """Objects counted by margin (spare shards left) and the ETA to full redundancy.

    Fill in when repair lands: it keeps the per-margin counts it orders its queue by.
    """
    raise NotAvailable(
        "Objects by margin and the time to full redundancy come with background "
        "repair, which is not built yet: nothing counts them cluster-wide. The bucket "
        "browser shows one object's margin (open an object)."
    )


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
