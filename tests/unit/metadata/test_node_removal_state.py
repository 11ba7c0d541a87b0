"""Taking a node out of the map for good, and the state repair keeps about
uploads and audits: RemoveNode and ReadmitNode, a removed node registering,
the audited store record, the compare-and-set on a part's placement, and
paging over every upload in progress."""

from __future__ import annotations

import pytest

from metadata.mutations import (
    AbortMultipartUpload,
    CreateMultipartUpload,
    NodeLiveness,
    NoteStoreAudited,
    ReadmitNode,
    RegisterNode,
    RemoveNode,
    ReportShardProblem,
    SetNodeState,
    UpdatePlacement,
)
from metadata.removal import Naming, check, count
from metadata.state import StateMachine
from tessera import errors
from tessera.model import NODE_DOWN, MultipartUpload, NodeInfo, ShardLocation
from tessera.repair_plan import shard_sets_of_upload
from tests.unit.metadata.test_state import codes, one, run
from tests.unit.metadata.test_uploads import put, segment, started, upload

__all__ = ["started"]


def _nodes(state: StateMachine, *ids: str) -> None:
    for i, node_id in enumerate(ids):
        one(state, RegisterNode(f"reg-{node_id}", NodeInfo(node_id, "z", f"h:{i}"), 1))


def test_remove_needs_draining_or_down_and_bumps_the_epoch(state: StateMachine) -> None:
    _nodes(state, "n1", "n2")
    assert codes(run(state, RemoveNode("r0", "n1"))) == ["InvalidRequest"]  # up
    assert codes(run(state, RemoveNode("r1", "n9"))) == ["InvalidArgument"]  # unknown
    one(state, SetNodeState("s1", "n1", "draining"))
    assert codes(run(state, RemoveNode("r2", "n1", force=True))) == ["InvalidRequest"]  # not down
    epoch = state.cluster_map().epoch
    one(state, RemoveNode("r3", "n1"))
    view = state.cluster_map()
    assert [n.node_id for n in view.nodes] == ["n2"] and view.epoch > epoch
    assert state.is_removed_node("n1") and state.removed_nodes() == ["n1"]


def test_forced_removal_of_a_down_node(state: StateMachine) -> None:
    _nodes(state, "n1", "n2")
    one(state, NodeLiveness("gone", "n1", False, 5))
    assert state.cluster_map().node("n1").state == NODE_DOWN  # type: ignore[union-attr]
    one(state, RemoveNode("r1", "n1", force=True))
    assert state.cluster_map().node("n1") is None


def test_a_removed_node_may_not_register_until_readmitted(state: StateMachine) -> None:
    _nodes(state, "n1")
    one(state, SetNodeState("s1", "n1", "draining"))
    one(state, RemoveNode("r1", "n1"))
    outcome = run(state, RegisterNode("again", NodeInfo("n1", "z", "h:1"), 9))[0]
    assert outcome.error_code == "InvalidRequest"
    assert "readmit" in (outcome.error_message or "")
    assert state.cluster_map().node("n1") is None
    assert codes(run(state, ReadmitNode("ra", "n2"))) == ["InvalidArgument"]  # never removed
    one(state, ReadmitNode("rb", "n1"))
    one(state, RegisterNode("back", NodeInfo("n1", "z", "h:1"), 10))
    node = state.cluster_map().node("n1")
    assert node is not None and node.state == "up"  # a new node: not draining any more


def test_audited_store_is_state_and_goes_with_the_node(state: StateMachine) -> None:
    _nodes(state, "n1")
    one(state, NoteStoreAudited("a1", "n1", "store-1"))
    one(state, NoteStoreAudited("a2", "n9", "store-9"))  # unknown node: nothing kept
    assert state.audited_stores() == {"n1": "store-1"}
    one(state, SetNodeState("s1", "n1", "draining"))
    one(state, RemoveNode("r1", "n1"))
    assert state.audited_stores() == {}


def _part_move(u: MultipartUpload, set_id: str, index: int, old: str, new: str) -> UpdatePlacement:
    return UpdatePlacement(
        f"mv-{set_id}-{index}-{new}", u.bucket, u.key, "", set_id, index, old, new, u.upload_id
    )


def test_part_placement_compare_and_set(state: StateMachine, started: MultipartUpload) -> None:
    part = segment(1)
    put(state, started, part)
    one(state, ReportShardProblem("rp", part.shard_set_id, 1, "n2", "missing", 1.0))
    one(state, _part_move(started, part.shard_set_id, 1, "n2", "n7"))
    page, _ = state.uploads_page(b"", 10)
    [(_, [got])] = page
    assert got.placement[1] == ShardLocation(1, "n7")
    assert state.shard_problems() == []
    # The slot moved on, the part was replaced, the upload is gone: each loses.
    stale = _part_move(started, part.shard_set_id, 1, "n2", "n8")
    replacement = segment(1)
    put(state, started, replacement)
    replaced = _part_move(started, part.shard_set_id, 0, "n1", "n8")
    assert codes(run(state, stale, replaced)) == ["PreconditionFailed", "PreconditionFailed"]
    one(state, AbortMultipartUpload("ab", started.bucket, started.key, started.upload_id))
    gone = _part_move(started, replacement.shard_set_id, 0, "n1", "n8")
    assert codes(run(state, gone)) == ["PreconditionFailed"]


def test_uploads_page_walks_every_upload_with_its_parts(
    state: StateMachine, started: MultipartUpload
) -> None:
    more = [upload(key=f"k{i}") for i in range(4)]
    for u in more:
        one(state, CreateMultipartUpload(f"c-{u.upload_id}", u))
    put(state, more[2], segment(1))
    put(state, more[2], segment(2))
    seen = []
    after = b""
    while True:
        page, after = state.uploads_page(after, 2)
        seen += [(u.upload_id, len(parts)) for u, parts in page]
        if not after:
            break
    assert sorted(seen) == sorted(
        [(started.upload_id, 0)] + [(u.upload_id, 2 if u is more[2] else 0) for u in more]
    )
    sets = shard_sets_of_upload(more[2], [segment(1), segment(2, size=0)])
    assert len(sets) == 1 and sets[0].upload_id == more[2].upload_id and sets[0].version_id == ""


def test_removal_check_counts_placements_and_readability(
    state: StateMachine,
    started: MultipartUpload,
) -> None:
    nodes = {n: NodeInfo(n, "z", f"h:{n}") for n in ("n1", "n2", "n3")}
    sets = shard_sets_of_upload(started, [segment(1), segment(2)])  # 2+1 on n1, n2, n3
    found = count(sets, "n2", nodes)
    assert found == Naming(placements=2, shard_sets=2, unreadable=0)
    with pytest.raises(errors.InvalidRequest, match="still holds 2 shard placements"):
        check("n2", found, force=False)
    check("n2", found, force=True)  # each set keeps 2 = k shards
    nodes["n1"] = NodeInfo("n1", "z", "h:1", state=NODE_DOWN)
    found = count(sets, "n2", nodes)
    assert found.unreadable == 2
    with pytest.raises(errors.InvalidRequest, match="unreadable without it"):
        check("n2", found, force=True)
    check("n9", count(sets, "n9", nodes), force=False)  # names nothing: allowed
