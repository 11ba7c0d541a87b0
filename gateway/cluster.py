"""The gateway's view of the cluster: a cached cluster map and gRPC channels
to the nodes in it.

ClusterView polls the metadata service for the map (nodes, zones, up/down
state, epoch) and keeps one channel per node address. Placement of new
versions uses only nodes that are up; reads use whatever node the version
record names, as long as the map still knows its address. It also keeps the
nodes this gateway found slow (gateway/slow_nodes.py): reads rank them last,
and new versions avoid them when the other up nodes suffice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc.aio

from gateway import metrics
from gateway.slow_nodes import SlowNodes
from metadata.client import MetadataClient
from proto import rpc
from proto.node_rpc import NodeStub
from tessera import limits
from tessera.model import NODE_DOWN, NODE_DRAINING, NODE_UP, ClusterMapView
from tessera.placement import Candidate

log = logging.getLogger(__name__)


class ClusterView:
    """Cluster map cache plus per-node stubs; lives for the gateway's lifetime."""

    def __init__(self, metadata: MetadataClient, secret: str) -> None:
        self._metadata = metadata
        self.secret = secret
        self.call_metadata = rpc.call_metadata(secret)
        self.map = ClusterMapView(epoch=0, nodes=())
        self._channels: dict[str, tuple[str, grpc.aio.Channel, NodeStub]] = {}
        self._loaded = asyncio.Event()
        self._retired: list[grpc.aio.Channel] = []
        self.slow = SlowNodes()

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    async def refresh(self) -> None:
        view = await self._metadata.get_cluster_map(timeout=limits.METADATA_CALL_TIMEOUT_SECONDS)
        self.map = view
        self._loaded.set()
        metrics.MAP_EPOCH.set(view.epoch)
        for state in (NODE_UP, NODE_DOWN, NODE_DRAINING):
            metrics.MAP_NODES.labels(state=state).set(sum(n.state == state for n in view.nodes))

    async def run(self) -> None:
        """Refreshes the map forever; failures keep the last good map."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the metadata service may be restarting
                log.warning("cluster map refresh failed: %s", exc)
            await asyncio.sleep(limits.CLUSTER_MAP_REFRESH_SECONDS)

    async def wait_loaded(self, timeout_seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), timeout_seconds)

    def candidates(self) -> list[Candidate]:
        """Nodes that may receive new shards: up (not down, not draining)."""
        return [
            Candidate(node_id=n.node_id, zone=n.zone, weight=n.weight)
            for n in self.map.nodes
            if n.state == NODE_UP
        ]

    def fallback_candidates(self) -> list[Candidate]:
        """Every node that is not draining: used when too few nodes are up to
        give each shard its own node, so a write can still go ahead degraded
        (the shards meant for down nodes are missing until repair)."""
        return [
            Candidate(node_id=n.node_id, zone=n.zone, weight=n.weight)
            for n in self.map.nodes
            if n.state != NODE_DRAINING
        ]

    def is_up(self, node_id: str) -> bool:
        node = self.map.node(node_id)
        return node is not None and node.state == NODE_UP

    def stub(self, node_id: str) -> NodeStub | None:
        """The stub for a node, or None when the map does not know it."""
        node = self.map.node(node_id)
        if node is None:
            return None
        cached = self._channels.get(node_id)
        if cached is not None and cached[0] == node.address:
            return cached[2]
        channel = rpc.new_channel(node.address)
        stub = NodeStub(channel)
        if cached is not None:
            self._retired.append(cached[1])  # in-flight calls may still use it
        self._channels[node_id] = (node.address, channel, stub)
        return stub

    async def close(self) -> None:
        for _, channel, _ in self._channels.values():
            await channel.close(None)
        self._channels.clear()
        for channel in self._retired:
            await channel.close(None)
        self._retired.clear()
