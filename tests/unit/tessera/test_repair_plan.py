"""Repair planning: missing shards get targets that keep the zone rule, the
margin is right, corrupt shards are rebuilt in place, drains come last."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from tessera.geometry import Geometry
from tessera.model import NODE_DOWN, NODE_DRAINING, NODE_UP, NodeInfo, ShardLocation
from tessera.placement import Candidate, place, zone_cap
from tessera.repair_plan import KIND_DRAIN, KIND_REPAIR, ShardSet, margin_label, plan

G42 = Geometry(4, 2, 1024)


def nodes_map(zones: int, per_zone: int) -> dict[str, NodeInfo]:
    return {
        f"n{z}-{i}": NodeInfo(f"n{z}-{i}", f"z{z}", f"h:{z}{i}")
        for z in range(zones)
        for i in range(per_zone)
    }


def placed(set_id: str, nodes: dict[str, NodeInfo], geometry: Geometry = G42) -> ShardSet:
    chosen = place(set_id, [Candidate(n.node_id, n.zone) for n in nodes.values()], geometry)
    return ShardSet(
        "b", "k", set_id, set_id, 5000, geometry,
        tuple(ShardLocation(i, n) for i, n in enumerate(chosen)),
    )  # fmt: skip


def with_state(nodes: dict[str, NodeInfo], node_id: str, state: str) -> dict[str, NodeInfo]:
    out = dict(nodes)
    n = out[node_id]
    out[node_id] = NodeInfo(n.node_id, n.zone, n.address, state=state)
    return out


def test_whole_set_needs_nothing() -> None:
    nodes = nodes_map(3, 3)
    assert plan(placed("v1", nodes), nodes) is None


@given(set_id=st.text(min_size=1, max_size=20), victim=st.integers(0, 5))
def test_down_node_gets_a_zone_safe_target(set_id: str, victim: int) -> None:
    nodes = nodes_map(3, 3)
    shard_set = placed(set_id, nodes)
    dead = shard_set.placement[victim].node_id
    view = with_state(nodes, dead, NODE_DOWN)
    task = plan(shard_set, view)
    assert task is not None and task.kind == KIND_REPAIR and task.margin == 1
    (rebuild,) = task.rebuilds
    assert rebuild.shard_index == victim and rebuild.old_node_id == dead
    assert rebuild.target_node_id and rebuild.target_node_id not in {
        loc.node_id for loc in shard_set.placement
    }
    after = [n for i, n in task.sources] + [rebuild.target_node_id]
    per_zone = Counter(view[n].zone for n in after)
    assert len(set(after)) == 6
    assert max(per_zone.values()) <= zone_cap(G42, 3)


def test_corrupt_shard_on_up_node_is_rebuilt_in_place() -> None:
    nodes = nodes_map(3, 2)
    shard_set = placed("v2", nodes)
    holder = shard_set.placement[3].node_id
    task = plan(shard_set, nodes, corrupt={(3, holder)})
    assert task is not None and task.margin == 1
    assert [(r.shard_index, r.old_node_id, r.target_node_id) for r in task.rebuilds] == [
        (3, holder, holder)
    ]


def test_never_written_slot_is_filled() -> None:
    nodes = nodes_map(3, 3)
    full = placed("v3", nodes)
    shard_set = ShardSet(**{**_fields(full), "placement": full.placement[:5]})
    task = plan(shard_set, nodes)
    assert task is not None and task.rebuilds[0].shard_index == 5
    assert task.rebuilds[0].old_node_id == ""


def test_no_target_when_the_map_is_too_small() -> None:
    nodes = nodes_map(3, 2)  # 6 nodes, 6 shards: nowhere to go
    shard_set = placed("v4", nodes)
    task = plan(shard_set, with_state(nodes, shard_set.placement[0].node_id, NODE_DOWN))
    assert task is not None and task.rebuilds[0].target_node_id == ""


def test_lost_set_plans_nothing_but_reports_its_margin() -> None:
    nodes = nodes_map(3, 3)
    shard_set = placed("v5", nodes)
    view = nodes
    for loc in shard_set.placement[:3]:
        view = with_state(view, loc.node_id, NODE_DOWN)
    task = plan(shard_set, view)
    assert task is not None and task.margin == -1 and task.rebuilds == ()
    assert margin_label(task.margin) == "lost"


def test_drain_moves_shards_and_sorts_last() -> None:
    nodes = nodes_map(3, 3)
    a = placed("va", nodes)
    drained = a.placement[0].node_id
    view = with_state(nodes, drained, NODE_DRAINING)
    drain = plan(a, view)
    assert drain is not None and drain.kind == KIND_DRAIN and drain.margin == 2
    assert drain.rebuilds[0].target_node_id not in {loc.node_id for loc in a.placement}
    b = placed("vb", nodes)
    repair = plan(b, with_state(view, b.placement[1].node_id, NODE_DOWN))
    assert repair is not None
    assert sorted([drain, repair], key=lambda t: t.sort_key())[0] is repair


def _fields(s: ShardSet) -> dict[str, object]:
    return {name: getattr(s, name) for name in s.__slots__}  # type: ignore[attr-defined]


def test_margin_labels_are_bounded() -> None:
    assert {margin_label(m) for m in range(-5, 50)} == {"lost", "0", "1", "2", "3", "4+"}


def test_up_states_only_are_targets() -> None:
    nodes = nodes_map(3, 3)
    shard_set = placed("v6", nodes)
    view = with_state(nodes, shard_set.placement[2].node_id, NODE_DOWN)
    spare = [n for n in nodes if n not in {loc.node_id for loc in shard_set.placement}]
    for n in spare:
        view = with_state(view, n, NODE_DRAINING)
    task = plan(shard_set, view)
    assert task is not None and task.rebuilds[0].target_node_id == ""
    assert all(view[n].state != NODE_UP for n in spare)
