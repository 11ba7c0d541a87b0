"""The repair leader's scan against the real state, with fake node stubs: the
store audit's record is state, so a new leader does not list every node
again; the parts of an upload in progress are planned like a version's sets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from metadata.commit import CommitLog, MutationLog
from metadata.mutations import (
    CreateMultipartUpload,
    NodeLiveness,
    PutObject,
    PutPart,
    RegisterNode,
)
from metadata.node_stubs import NodeStubs
from metadata.repair import RepairScheduler
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from tessera.model import NodeInfo, ObjectVersion
from tests.unit.metadata.test_state import create, one
from tests.unit.metadata.test_uploads import segment, upload

VersionFactory = Callable[..., ObjectVersion]


class FakeNodes:
    """Answers ListShards for every node with the shards it was given."""

    call_metadata = (("authorization", "x"),)

    def __init__(self) -> None:
        self.held: dict[str, set[tuple[str, int]]] = {}
        self.listed: list[str] = []

    def stub(self, address: str) -> FakeNodes:
        self._address = address
        return self

    def ListShards(self, request: pb.ListShardsRequest, **_: Any) -> AsyncIterator[pb.ShardHeader]:
        address = self._address
        self.listed.append(address)

        async def headers() -> AsyncIterator[pb.ShardHeader]:
            for set_id, index in sorted(self.held.get(address, ())):
                yield pb.ShardHeader(version_id=set_id, shard_index=index)

        return headers()


async def _noop(timeout: float) -> None:  # noqa: ASYNC109
    return None


def _scheduler(state: StateMachine, log: MutationLog, nodes: FakeNodes) -> RepairScheduler:
    stubs: NodeStubs = nodes  # type: ignore[assignment]
    return RepairScheduler(
        state=state,
        mutation_log=log,
        consistent=_noop,
        reads=ThreadPoolExecutor(max_workers=1),
        stubs=stubs,
        is_leader=lambda: True,
        rate_bytes_per_second=1e6,
        scan_interval_seconds=1.0,
    )


def _register(state: StateMachine, node_id: str, store_id: str, revision: int) -> None:
    node = NodeInfo(node_id, "z", f"addr-{node_id}", store_id=store_id)
    one(state, RegisterNode(f"reg-{node_id}-{store_id}", node, revision))


async def test_a_new_leader_does_not_audit_again(
    state: StateMachine, make_version: VersionFactory
) -> None:
    for n in ("n1", "n2", "n3"):
        _register(state, n, f"store-{n}", 1)
    one(state, create("b"))
    v = make_version("b", "k")  # 2+1 on n1, n2, n3
    one(state, PutObject("p1", v))
    nodes = FakeNodes()
    nodes.held = {f"addr-n{i + 1}": {(v.version_id, i)} for i in range(3)}
    async with CommitLog(state, window_seconds=0.001) as log:
        await _scheduler(state, log, nodes).scan()
        assert sorted(nodes.listed) == ["addr-n1", "addr-n2", "addr-n3"]
        assert state.audited_stores() == {n: f"store-{n}" for n in ("n1", "n2", "n3")}
        nodes.listed.clear()
        await _scheduler(state, log, nodes).scan()  # another leader
        assert nodes.listed == []
        _register(state, "n2", "wiped", 2)  # same node, new disk
        nodes.held["addr-n2"] = set()
        tasks, _ = await _scheduler(state, log, nodes).scan()
        assert nodes.listed == ["addr-n2"]
        [task] = tasks  # the missing shard, rebuilt in place
        assert [(r.shard_index, r.target_node_id) for r in task.rebuilds] == [(1, "n2")]


async def test_a_part_on_a_dead_node_is_planned_for_repair(state: StateMachine) -> None:
    for n in ("n1", "n2", "n3", "n4"):
        _register(state, n, f"store-{n}", 1)
    one(state, create("b"))
    u = upload()
    one(state, CreateMultipartUpload("cu", u))
    part = segment(1)  # 2+1 on n1, n2, n3
    one(state, PutPart("pp", u.bucket, u.key, u.upload_id, part))
    one(state, NodeLiveness("gone", "n2", False, 5))
    nodes = FakeNodes()
    nodes.held = {
        f"addr-{loc.node_id}": {(part.shard_set_id, loc.shard_index)} for loc in part.placement
    }
    async with CommitLog(state, window_seconds=0.001) as log:
        tasks, _ = await _scheduler(state, log, nodes).scan()
    [task] = tasks
    assert task.shard_set.upload_id == u.upload_id and task.shard_set.version_id == ""
    assert [(r.shard_index, r.old_node_id, r.target_node_id) for r in task.rebuilds] == [
        (1, "n2", "n4")
    ]
