"""Node liveness: the in-memory source (time passed in), the corrections it
yields, and how the state applies them (stale observations never win)."""

from __future__ import annotations

import pytest

from metadata.liveness import LiveSet, LocalLiveness, corrections
from metadata.mutations import LogEntry, Mutation, NodeLiveness, RegisterNode
from metadata.state import StateMachine
from tessera import errors
from tessera.model import NODE_DOWN, NODE_DRAINING, NODE_UP, ClusterMapView, NodeInfo

GRACE = 10.0


def node(node_id: str = "n1", **fields: object) -> NodeInfo:
    values: dict[str, object] = {"zone": "zone-a", "address": f"{node_id}:9200"}
    values.update(fields)
    return NodeInfo(node_id, **values)  # type: ignore[arg-type]


def apply(state: StateMachine, *ms: Mutation) -> None:
    first = state.applied_position + 1
    state.commit(state.apply_batch([LogEntry(first + i, m) for i, m in enumerate(ms)]))


def states(state: StateMachine) -> dict[str, str]:
    return {n.node_id: n.state for n in state.cluster_map().nodes}


def test_local_liveness_expires_silent_nodes_and_revisions_increase() -> None:
    live = LocalLiveness(GRACE, initial_revision=100)
    r1 = live.register("n1", now=0.0)
    assert r1 == 101
    live.heartbeat("n1", now=8.0)
    assert live.live_set(18.0) == LiveSet(101, {"n1": 101})  # exactly the grace: alive
    gone = live.live_set(18.5)
    assert gone.alive == {} and gone.revision > 101
    with pytest.raises(errors.InvalidRequest):
        live.heartbeat("n1", now=19.0)
    assert live.register("n1", now=20.0) > gone.revision


def test_loaded_nodes_get_a_fresh_grace_period() -> None:
    live = LocalLiveness(GRACE, initial_revision=5)
    live.load(["n1", "n2"], now=100.0)
    assert set(live.live_set(109.0).alive) == {"n1", "n2"}
    assert live.live_set(111.0).alive == {}


def test_corrections_mark_the_difference_only() -> None:
    view = ClusterMapView(
        epoch=1,
        nodes=(
            node("up-alive"),
            node("up-gone"),
            node("down-back", state=NODE_DOWN),
            node("drain-gone", state=NODE_DRAINING),
        ),
    )
    live = LiveSet(50, {"up-alive": 3, "down-back": 40})
    assert corrections(view, live) == [
        NodeLiveness("", "up-gone", False, 50),
        NodeLiveness("", "down-back", True, 40),
        NodeLiveness("", "drain-gone", False, 50),
    ]


def test_the_map_changes_only_through_the_log_and_bumps_the_epoch(state: StateMachine) -> None:
    assert state.cluster_map() == ClusterMapView(epoch=0, nodes=())
    apply(state, RegisterNode("r1", node("n1"), live_revision=10))
    first = state.cluster_map()
    assert first.epoch == 1 and states(state) == {"n1": NODE_UP}
    apply(state, RegisterNode("r2", node("n1"), live_revision=11))  # same fields: same map
    assert state.cluster_map().epoch == 1
    apply(state, NodeLiveness("", "n1", False, 20))
    assert states(state) == {"n1": NODE_DOWN}
    assert state.cluster_map().epoch == state.applied_position
    # A stale observation (from before the node was last seen) is ignored ...
    apply(state, NodeLiveness("", "n1", True, 15))
    assert states(state) == {"n1": NODE_DOWN}
    # ... a newer registration brings it back, and a late "gone" from before it does not win.
    apply(
        state, RegisterNode("r3", node("n1"), live_revision=30), NodeLiveness("", "n1", False, 25)
    )
    assert states(state) == {"n1": NODE_UP}
    epoch = state.cluster_map().epoch
    apply(state, NodeLiveness("", "unknown", False, 99))  # not registered: nothing happens
    assert state.cluster_map().epoch == epoch


def test_draining_survives_registration_but_not_death(state: StateMachine) -> None:
    apply(state, RegisterNode("r1", node("n1", state=NODE_DRAINING), live_revision=1))
    assert states(state) == {"n1": NODE_UP}  # a node cannot drain itself by registering
    # an operator's draining is a registered state the node keeps when it registers again
    from metadata import keys
    from tessera.model import record_to_json

    state.db.put(keys.node_key("n1"), record_to_json(node("n1", state=NODE_DRAINING)))
    apply(state, RegisterNode("r2", node("n1"), live_revision=2))
    assert states(state) == {"n1": NODE_DRAINING}
    apply(state, NodeLiveness("", "n1", False, 3))
    assert states(state) == {"n1": NODE_DOWN}
