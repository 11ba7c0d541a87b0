"""Node liveness and the map epoch, with time passed in."""

from __future__ import annotations

import pytest

from metadata.liveness import Liveness, Transition
from tessera import errors
from tessera.model import NODE_DOWN, NODE_DRAINING, NODE_UP, NodeInfo

GRACE = 10.0


def node(node_id: str = "n1", **fields: object) -> NodeInfo:
    values: dict[str, object] = {"zone": "zone-a", "address": f"{node_id}:9200"}
    values.update(fields)
    return NodeInfo(node_id, **values)  # type: ignore[arg-type]


def states(live: Liveness, now: float) -> dict[str, str]:
    return {n.node_id: n.state for n in live.view(now).nodes}


def test_a_registered_node_is_up_and_bumps_the_epoch() -> None:
    live = Liveness(GRACE, initial_epoch=100)
    assert live.registered(node(), now=0.0) == [Transition("n1", "", NODE_UP)]
    view = live.view(1.0)
    assert view.epoch == 101
    assert view.nodes == (node(last_heartbeat=0.0),)


def test_silence_past_grace_marks_down_and_a_heartbeat_brings_it_back() -> None:
    live = Liveness(GRACE)
    live.registered(node(), now=0.0)
    epoch = live.epoch
    live.heartbeat("n1", 1000, 10, now=8.0)
    assert states(live, 18.0) == {"n1": NODE_UP}  # exactly the grace: still up
    assert live.epoch == epoch
    assert states(live, 18.5) == {"n1": NODE_DOWN}
    assert live.epoch == epoch + 1
    assert states(live, 30.0) == {"n1": NODE_DOWN}
    assert live.epoch == epoch + 1  # no change, no bump
    assert live.heartbeat("n1", 1000, 20, now=31.0) == [Transition("n1", NODE_DOWN, NODE_UP)]
    view = live.view(31.0)
    assert view.epoch == epoch + 2
    assert (view.nodes[0].used_bytes, view.nodes[0].last_heartbeat) == (20, 31.0)


def test_heartbeats_do_not_change_the_epoch() -> None:
    live = Liveness(GRACE)
    live.registered(node(), now=0.0)
    epoch = live.epoch
    for t in range(1, 50):
        live.heartbeat("n1", 100, t, now=float(t))
    assert live.view(50.0).epoch == epoch


def test_membership_changes_bump_the_epoch_once() -> None:
    live = Liveness(GRACE)
    live.registered(node("n1"), now=0.0)
    e1 = live.epoch
    live.registered(node("n2"), now=1.0)
    assert live.epoch == e1 + 1
    live.registered(node("n2"), now=2.0)  # a restart with the same record
    assert live.epoch == e1 + 1
    live.registered(node("n2", address="elsewhere:1"), now=3.0)
    assert live.epoch == e1 + 2
    assert [n.node_id for n in live.view(3.0).nodes] == ["n1", "n2"]


def test_draining_stays_draining_until_silent() -> None:
    live = Liveness(GRACE)
    live.registered(node(state=NODE_DRAINING), now=0.0)
    assert states(live, 5.0) == {"n1": NODE_DRAINING}
    assert states(live, 11.0) == {"n1": NODE_DOWN}
    live.heartbeat("n1", 0, 0, now=12.0)
    assert states(live, 12.0) == {"n1": NODE_DRAINING}
    assert live.counts_by_state() == {NODE_DRAINING: 1}


def test_unknown_node_heartbeat_is_refused() -> None:
    live = Liveness(GRACE)
    with pytest.raises(errors.InvalidRequest):
        live.heartbeat("ghost", 0, 0, now=0.0)


def test_loaded_nodes_get_a_fresh_grace_period() -> None:
    live = Liveness(GRACE, initial_epoch=5)
    live.load([node("n1", last_heartbeat=-1000.0), node("n2", state=NODE_DRAINING)], now=100.0)
    assert states(live, 105.0) == {"n1": NODE_UP, "n2": NODE_DRAINING}
    assert states(live, 111.0) == {"n1": NODE_DOWN, "n2": NODE_DOWN}
    assert live.epoch > 5
