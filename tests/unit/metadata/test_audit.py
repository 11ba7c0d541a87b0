"""Which nodes the store audit visits: up nodes whose store id the state
does not record as audited, a few per pass."""

from __future__ import annotations

from metadata.audit import AUDIT_NODES_PER_PASS, StoreAudit
from metadata.node_stubs import NodeStubs
from tessera.model import NODE_DOWN, NODE_DRAINING, NodeInfo


def test_due_nodes_are_up_with_an_unaudited_store() -> None:
    audit = StoreAudit(NodeStubs("secret"))
    nodes = {
        f"n{i}": NodeInfo(f"n{i}", "z", f"h:{i}", store_id=f"s{i}")
        for i in range(AUDIT_NODES_PER_PASS + 2)
    }
    nodes["n0"] = NodeInfo("n0", "z", "h:0", state=NODE_DOWN, store_id="s0")
    nodes["n1"] = NodeInfo("n1", "z", "h:1", state=NODE_DRAINING, store_id="s1")
    due = audit.due(nodes, {})
    assert len(due) == AUDIT_NODES_PER_PASS
    assert not due & {"n0", "n1"}
    audited = {n.node_id: n.store_id for n in nodes.values()}
    assert audit.due(nodes, audited) == set()
    nodes["n3"] = NodeInfo("n3", "z", "h:3", store_id="wiped")  # same node, new disk
    assert audit.due(nodes, audited) == {"n3"}
