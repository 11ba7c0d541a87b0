"""The cluster RPCs of the Metadata servicer: the map, nodes, repair and removal.

Node registration and heartbeats (which go to the liveness source, while the
map itself is state, kept in step by reconcile_liveness), the cluster map,
shard problem reports and the repair status and rate, and the operator's
node states: drain, remove, readmit (docs/repair.md, docs/operations.md). A
mixin of MetadataService (service.py).

Invariants: a removed node can neither register nor heartbeat again until it
is readmitted; a node is removed only when removal.check allows it (or the
operator forces it), and removing an already removed node is a no-op, so a
retried RemoveNode succeeds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from metadata import liveness, mutations, removal
from metadata.service_core import ServiceCore, remaining, rpc
from metadata.state import removed_message
from proto import convert
from proto import tessera_pb2 as pb
from tessera import errors
from tessera.ids import new_request_id
from tessera.model import NodeInfo

log = logging.getLogger(__name__)


class ClusterRpcs(ServiceCore):
    async def reconcile_liveness(self, timeout: float) -> int:  # noqa: ASYNC109
        """Appends the corrections that bring the map in line with who is alive;
        returns how many. Called periodically by every replica."""
        deadline = time.monotonic() + timeout
        live = await self._liveness.live_set(timeout=timeout)
        await self._consistent(max(0.0, deadline - time.monotonic()))
        view = await self._read(self._state.cluster_map)
        fixes = liveness.corrections(view, live)
        for fix in fixes:
            log.info(
                "node %s is %s (liveness revision %d)",
                fix.node_id,
                "alive" if fix.alive else "gone",
                fix.observed_revision,
            )
            await self._log.submit(fix)
        if fixes:
            view = await self._read(self._state.cluster_map)
        self._count_nodes(view)
        return len(fixes)

    # ------------------------------------------------------------ nodes and the map

    @rpc
    async def RegisterNode(self, request: pb.NodeRecord, context: Any) -> pb.ClusterMap:
        if not request.node_id or not request.address:
            raise errors.InvalidArgument("node_id and address are required")
        if request.weight < 0:
            raise errors.InvalidArgument("weight must not be negative")
        node = convert.node_from_pb(request)
        if await self._read(self._state.is_removed_node, node.node_id):
            raise errors.InvalidRequest(removed_message(node.node_id))
        live_revision = await self._liveness.register(node, timeout=remaining(context))
        await self._submit(mutations.RegisterNode(new_request_id(), node, live_revision), NodeInfo)
        self._usage[node.node_id] = (node.capacity_bytes, node.used_bytes, self._clock())
        return convert.map_to_pb(await self._map())

    @rpc
    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.Empty:
        if await self._read(self._state.is_removed_node, request.node_id):
            raise errors.InvalidRequest(removed_message(request.node_id))
        await self._liveness.heartbeat(request.node_id, timeout=remaining(context))
        self._usage[request.node_id] = (request.capacity_bytes, request.used_bytes, self._clock())
        return pb.Empty()

    @rpc
    async def GetClusterMap(self, request: pb.Empty, context: Any) -> pb.ClusterMap:
        return convert.map_to_pb(await self._strong(context, self._map))

    # ------------------------------------------------------------ repair

    @rpc
    async def ReportShardProblem(self, request: pb.ShardProblem, context: Any) -> pb.Empty:
        if not request.shard_set_id or not request.node_id:
            raise errors.InvalidArgument("shard_set_id and node_id are required")
        await self._log.submit(
            mutations.ReportShardProblem(
                request_id=request.request_id or new_request_id(),
                shard_set_id=request.shard_set_id,
                shard_index=request.shard_index,
                node_id=request.node_id,
                problem=request.kind or "corrupt",
                reported_at=self._clock(),
            )
        )
        return pb.Empty()

    @rpc
    async def RepairStatus(self, request: pb.Empty, context: Any) -> pb.RepairStatusResponse:
        replica_id = self._replica.replica_id if self._replica else "single"
        if self.repair is None or not self.repair.is_leader:
            return pb.RepairStatusResponse(is_leader=False, replica_id=replica_id)
        return self.repair.status(replica_id)

    @rpc
    async def SetRepairRate(self, request: pb.SetRepairRateRequest, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.SetRepairRate(
                request.request_id or new_request_id(), request.bytes_per_second
            )
        )
        return pb.Empty()

    # ------------------------------------------------------------ node states

    @rpc
    async def SetNodeState(self, request: pb.SetNodeStateRequest, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.SetNodeState(
                request.request_id or new_request_id(), request.node_id, request.state
            )
        )
        return pb.Empty()

    @rpc
    async def RemoveNode(
        self, request: pb.RemoveNodeRequest, context: Any
    ) -> pb.RemoveNodeResponse:
        if not request.node_id:
            raise errors.InvalidArgument("node_id is required")
        view = await self._strong_read(context, self._state.cluster_map)
        if view.node(request.node_id) is None:
            if await self._read(self._state.is_removed_node, request.node_id):
                return pb.RemoveNodeResponse()  # already removed (a retry): done
            raise errors.InvalidArgument(f"no node {request.node_id!r} in the cluster map")
        found = await removal.naming(self._state, self._reads, request.node_id)
        removal.check(request.node_id, found, force=request.force)
        await self._log.submit(
            mutations.RemoveNode(
                request.request_id or new_request_id(), request.node_id, request.force
            )
        )
        self._usage.pop(request.node_id, None)
        log.warning(
            "node %s removed from the cluster map%s; %d placements named it",
            request.node_id,
            " (forced)" if request.force else "",
            found.placements,
        )
        return pb.RemoveNodeResponse(placements=found.placements, shard_sets=found.shard_sets)

    @rpc
    async def ReadmitNode(self, request: pb.SetNodeStateRequest, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.ReadmitNode(request.request_id or new_request_id(), request.node_id)
        )
        return pb.Empty()
