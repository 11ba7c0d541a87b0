"""The store audit: shards a node should hold but does not (an empty disk).

A node's shard store gets a random store id when it is created
(node/identity.py) and the node registers with it. The state keeps the
store id last audited for each node (NoteStoreAudited, written by the
leader once a listing completed, so a new leader inherits it); a node that is
up with a different one (a disk wiped or replaced under the same node id,
or a node never audited) is due. Auditing it: the leader
collects the (shard set id, shard index) slots the versions it just read
place on that node, then lists the node's shards (ListShards). A slot with
no shard is reported as a "missing" shard problem, so the planner treats
it as it does a quarantined shard: rebuilt in place on that same node, and
the UpdatePlacement clears the report.

Invariants:
- placements are read before the shards are listed: a version committed in
  between had its shards durable before its commit, so a listed-too-early
  shard cannot be reported missing; a report that is wrong anyway (a shard
  moved off the node meanwhile) only costs a rebuild that loses its
  compare-and-set, and the next scan clears the report;
- a node counts as audited only after its listing completed (the caller then
  records it in the state);
- at most AUDIT_NODES_PER_PASS nodes per scan, so the slots kept in memory
  are bounded by a few nodes' shard counts (a new cluster is audited over
  several passes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import grpc.aio

from metadata.node_stubs import NodeStubs
from proto import tessera_pb2 as pb
from tessera import limits
from tessera.model import NODE_UP, NodeInfo

log = logging.getLogger(__name__)

AUDIT_NODES_PER_PASS = 4
PROBLEM_MISSING = "missing"

Slot = tuple[str, int]  # (shard set id, shard index)


class StoreAudit:
    def __init__(self, stubs: NodeStubs) -> None:
        self._stubs = stubs

    @staticmethod
    def due(nodes: Mapping[str, NodeInfo], audited: Mapping[str, str]) -> set[str]:
        """Up nodes whose store was not audited yet (at most a few per pass);
        audited: node id -> the store id last audited (the state's record)."""
        pending = sorted(
            n.node_id
            for n in nodes.values()
            if n.state == NODE_UP and audited.get(n.node_id) != n.store_id
        )
        return set(pending[:AUDIT_NODES_PER_PASS])

    async def missing(self, node: NodeInfo, expected: Iterable[Slot]) -> set[Slot] | None:
        """The expected slots the node does not hold; None when it could not
        be listed (it stays due). The caller records the audit in the state."""
        present: set[Slot] = set()
        try:
            call = self._stubs.stub(node.address).ListShards(
                pb.ListShardsRequest(),
                timeout=limits.GC_LIST_TIMEOUT_SECONDS,
                metadata=self._stubs.call_metadata,
            )
            async for header in call:
                present.add((header.version_id, header.shard_index))
        except grpc.aio.AioRpcError as exc:
            log.info("audit of %s postponed: %s", node.node_id, exc.code().name)
            return None
        gone = set(expected) - present
        if gone:
            log.warning(
                "node %s (store %s) lacks %d shards it should hold; queued for repair",
                node.node_id,
                node.store_id or "-",
                len(gone),
            )
        return gone
