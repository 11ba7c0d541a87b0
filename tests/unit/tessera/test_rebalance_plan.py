"""Rebalance planning: after a node joins, only shards whose ideal placement
now names the new node move, each move alone keeps the zone cap, the moved
fraction is the new node's share of its zone, and a set on its
ideal nodes needs nothing (passes converge). Nothing moves while a set is
degraded or a whole zone is down."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.geometry import Geometry
from tessera.model import NODE_DOWN, NODE_DRAINING, NodeInfo, ShardLocation
from tessera.placement import zone_cap
from tessera.repair_plan import (
    KIND_DRAIN,
    KIND_REBALANCE,
    KIND_REPAIR,
    RepairTask,
    ShardSet,
    ideal_nodes,
    plan,
    plan_rebalance,
)
from tests.unit.tessera.test_repair_plan import nodes_map, placed, with_state

G54 = Geometry(5, 4, 1024)


def joined(nodes: dict[str, NodeInfo], node_id: str, zone: str) -> dict[str, NodeInfo]:
    return {**nodes, node_id: NodeInfo(node_id, zone, f"h:{node_id}")}


def apply(shard_set: ShardSet, task: RepairTask, nodes: dict[str, NodeInfo]) -> ShardSet:
    """Applies the moves one by one, checking the zone cap after each."""
    by_index = {loc.shard_index: loc.node_id for loc in shard_set.placement}
    zones = len({n.zone for n in nodes.values()})
    for move in task.rebuilds:
        assert by_index[move.shard_index] == move.old_node_id
        by_index[move.shard_index] = move.target_node_id
        per_zone = Counter(nodes[n].zone for n in by_index.values())
        assert max(per_zone.values()) <= zone_cap(shard_set.geometry, zones)
        assert len(set(by_index.values())) == len(by_index)
    placement = tuple(ShardLocation(i, n) for i, n in sorted(by_index.items()))
    return dataclasses.replace(shard_set, placement=placement)


def test_a_set_on_its_ideal_nodes_needs_nothing() -> None:
    nodes = nodes_map(3, 3)
    assert plan_rebalance(placed("v1", nodes, G54), nodes) is None


@settings(max_examples=60)
@given(set_id=st.text(min_size=1, max_size=16), zone=st.integers(0, 2))
def test_moves_go_only_onto_the_new_node_and_converge(set_id: str, zone: int) -> None:
    nodes = nodes_map(3, 4)
    shard_set = placed(set_id, nodes, G54)
    grown = joined(nodes, "new", f"z{zone}")
    task = plan_rebalance(shard_set, grown)
    if task is None:
        assert set(ideal_nodes(shard_set, grown) or ()) == {
            loc.node_id for loc in shard_set.placement
        }
        return
    assert task.kind == KIND_REBALANCE
    assert [m.target_node_id for m in task.rebuilds] == ["new"]
    moved = apply(shard_set, task, grown)
    assert plan_rebalance(moved, grown) is None


def test_the_new_node_takes_its_share_of_its_zone() -> None:
    """5+4 over three zones puts exactly 3 shards of every set in each zone
    (the cap is the even spread), so a node joining zone z1 (4 -> 5 nodes)
    takes 3/5 of a shard per set: 1/(zones x nodes in its zone) = 1/15 of all
    shards (1/N = 1/13 only when the zones are the same size). The per-set
    move is a coin with p = 3/5; over 3000 sets the moved fraction's standard
    deviation is 0.001, so +- 0.005 is five of them."""
    nodes = nodes_map(3, 4)
    grown = joined(nodes, "new", "z1")
    total = moved = 0
    for i in range(3000):
        shard_set = placed(f"set-{i}", nodes, G54)
        total += G54.total_shards
        task = plan_rebalance(shard_set, grown)
        moved += len(task.rebuilds) if task else 0
    assert abs(moved / total - 1 / 15) < 0.005, moved / total


def test_several_new_nodes_pair_within_zones_first() -> None:
    nodes = nodes_map(3, 3)
    grown = joined(joined(joined(nodes, "na", "z0"), "nb", "z1"), "nc", "z2")
    zone = {n.node_id: n.zone for n in grown.values()}
    for i in range(200):
        shard_set = placed(f"s{i}", nodes, G54)
        task = plan_rebalance(shard_set, grown)
        if task is None:
            continue
        # Each zone's count is even (3) before and after: every move stays in its zone.
        assert all(zone[m.old_node_id] == zone[m.target_node_id] for m in task.rebuilds)
        assert plan_rebalance(apply(shard_set, task, grown), grown) is None


def test_nothing_moves_while_a_zone_is_down() -> None:
    """Over the two zones left, place() would crowd a set into them; the cap
    counts every zone in the map, so the set stays where it is."""
    nodes = nodes_map(3, 4)
    shard_set = placed("v", nodes, G54)
    view = joined(nodes, "new", "z1")
    for n in [n for n in nodes if nodes[n].zone == "z0"]:
        view = with_state(view, n, NODE_DOWN)
    assert plan_rebalance(shard_set, view) is None
    task = plan(shard_set, view)
    assert task is not None and task.kind == KIND_REPAIR


def test_degraded_or_draining_sets_are_not_rebalanced() -> None:
    nodes = nodes_map(3, 4)
    shard_set = placed("v", nodes, G54)
    grown = joined(nodes, "new", "z2")
    victim = shard_set.placement[0].node_id
    assert plan_rebalance(shard_set, with_state(grown, victim, NODE_DOWN)) is None
    draining = with_state(grown, victim, NODE_DRAINING)
    assert plan_rebalance(shard_set, draining) is None
    task = plan(shard_set, draining)
    assert task is not None and task.kind == KIND_DRAIN


def test_rebalance_sorts_after_repairs_and_drains() -> None:
    nodes = nodes_map(3, 4)
    grown = joined(nodes, "new", "z0")
    moves = [
        t
        for t in (plan_rebalance(placed(f"r{i}", nodes, G54), grown) for i in range(50))
        if t is not None
    ]
    assert moves
    other = placed("x", nodes, G54)
    repair = plan(other, with_state(grown, other.placement[0].node_id, NODE_DOWN))
    drain = plan(other, with_state(grown, other.placement[0].node_id, NODE_DRAINING))
    assert repair is not None and drain is not None
    ordered = sorted([moves[0], drain, repair], key=lambda t: t.sort_key())
    assert [t.kind for t in ordered] == [KIND_REPAIR, KIND_DRAIN, KIND_REBALANCE]
