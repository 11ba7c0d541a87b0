"""Repair's state changes: UpdatePlacement is a compare-and-set that a
concurrent overwrite or delete wins; problem reports, the repair rate, node
drain, and paging over every version."""

from __future__ import annotations

from metadata.mutations import (
    DeleteObject,
    PutObject,
    RegisterNode,
    ReportShardProblem,
    SetNodeState,
    SetRepairRate,
    UpdatePlacement,
)
from metadata.state import StateMachine
from tessera.model import NODE_DRAINING, NodeInfo, ShardLocation
from tests.unit.metadata.conftest import VersionFactory
from tests.unit.metadata.test_state import codes, create, one, run


def move(v_bucket: str, key: str, vid: str, index: int, old: str, new: str) -> UpdatePlacement:
    return UpdatePlacement(f"up-{vid}-{index}-{new}", v_bucket, key, vid, vid, index, old, new)


def test_update_placement_moves_one_slot(state: StateMachine, make_version: VersionFactory) -> None:
    one(state, create("b"))
    v = make_version("b", "k")
    one(state, PutObject("p1", v))
    one(state, ReportShardProblem("rp", v.version_id, 1, "n2", "corrupt", 1.0))
    assert state.shard_problems() == [(v.version_id, 1, "n2")]
    one(state, move("b", "k", v.version_id, 1, "n2", "n9"))
    got = state.get_object("b", "k")
    assert got.placement == (
        ShardLocation(0, "n1"),
        ShardLocation(1, "n9"),
        ShardLocation(2, "n3"),
    )
    assert state.shard_problems() == []


def test_update_placement_loses_to_overwrite_delete_and_moves(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    old = make_version("b", "k")
    new = make_version("b", "k")
    one(state, PutObject("p1", old))
    one(state, PutObject("p2", new))
    stale_version = move("b", "k", old.version_id, 0, "n1", "n7")
    moved_slot = move("b", "k", new.version_id, 0, "n5", "n7")  # slot names n1, not n5
    assert codes(run(state, stale_version, moved_slot)) == [
        "PreconditionFailed",
        "PreconditionFailed",
    ]
    assert state.get_object("b", "k") == new
    one(state, DeleteObject("d1", "b", "k"))
    assert codes(run(state, move("b", "k", new.version_id, 0, "n1", "n7"))) == [
        "PreconditionFailed"
    ]
    assert state.versions_page(b"", 10) == ([], b"")  # nothing resurrected


def test_unwritten_slot_is_filled(state: StateMachine, make_version: VersionFactory) -> None:
    one(state, create("b"))
    v = make_version("b", "k", placement=(ShardLocation(0, "n1"), ShardLocation(2, "n3")))
    one(state, PutObject("p1", v))
    one(state, move("b", "k", v.version_id, 1, "", "n4"))
    assert state.get_object("b", "k").node_for_shard(1) == "n4"


def test_versions_page_walks_every_bucket(
    state: StateMachine, make_version: VersionFactory
) -> None:
    for bucket in ("a", "b"):
        one(state, create(bucket))
        for i in range(5):
            one(state, PutObject(f"p-{bucket}-{i}", make_version(bucket, f"k{i}")))
    seen = []
    after = b""
    while True:
        page, after = state.versions_page(after, 3)
        seen.extend((v.bucket, v.key) for v in page)
        if not after:
            break
    assert seen == [(b, f"k{i}") for b in ("a", "b") for i in range(5)]


def test_repair_rate_and_drain(state: StateMachine) -> None:
    assert state.repair_rate() == 0.0
    one(state, SetRepairRate("r1", 5e6))
    assert state.repair_rate() == 5e6
    one(state, RegisterNode("reg", NodeInfo("n1", "z", "h:1"), 1))
    epoch = state.cluster_map().epoch
    one(state, SetNodeState("s1", "n1", NODE_DRAINING))
    view = state.cluster_map()
    assert view.nodes[0].state == NODE_DRAINING and view.epoch > epoch
    one(state, RegisterNode("reg2", NodeInfo("n1", "z", "h:1"), 2))
    assert state.cluster_map().nodes[0].state == NODE_DRAINING
    assert codes(run(state, SetNodeState("s2", "n1", "down"))) == ["InvalidArgument"]


def test_versions_page_returns_only_versions_in_shard_sets(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    sharded = make_version("b", "sharded")
    one(state, PutObject("p1", make_version("b", "inline", 1, inline_data=b"x", placement=())))
    one(state, PutObject("p2", make_version("b", "empty", 0, placement=())))
    one(state, PutObject("p3", sharded))
    assert state.versions_page(b"", 1000) == ([sharded], b"")
    # the limit bounds the records examined, not the versions returned
    first, after = state.versions_page(b"", 2)
    assert first == [] and after
    assert state.versions_page(after, 2) == ([sharded], b"")
