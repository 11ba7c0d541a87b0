"""GC against real node servicers on 127.0.0.1: a node's garbage goes in
DeleteShards batches (one call for a few shards, several past the cap), a
referenced or young shard stays, and a node that predates DeleteShards is
asked shard by shard."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rocksdict import Rdict

from metadata import gc as gc_module
from metadata.gc import GarbageCollector
from metadata.mutations import CreateBucket, LogEntry, Mutation, PutObject
from metadata.repair import Progress
from metadata.state import StateMachine, open_db
from node.shard_format import ShardMeta
from node.store import ShardStore
from proto.node_rpc import NodeStub
from tessera.checksum import crc32c
from tessera.ids import new_version_id
from tessera.model import NodeInfo, ObjectVersion, ShardLocation
from tests.unit.loopback_nodes import CALL_METADATA, LoopbackNode, loopback_nodes
from tests.unit.versions import a_version

pytestmark = pytest.mark.usefixtures("loop_watchdog")

GRACE_SECONDS = 60.0
HOUR = 3600.0


class Stubs:
    """What GC asks of NodeStubs: a stub by address (here the node id)."""

    call_metadata = CALL_METADATA

    def __init__(self, nodes: list[LoopbackNode]) -> None:
        self._stubs = {n.node_id: n.stub for n in nodes}

    def stub(self, address: str) -> NodeStub:
        return self._stubs[address]


def apply(state: StateMachine, *ms: Mutation) -> None:
    first = state.applied_position + 1
    state.commit(state.apply_batch([LogEntry(first + i, m) for i, m in enumerate(ms)]))


def write_shard(store: ShardStore, version_id: str, key: str, age_seconds: float) -> None:
    meta = ShardMeta("b", key, version_id, 0, 2, 1, 64, 100, 1)
    with store.begin_write(meta) as writer:
        chunk = b"x" * 50
        writer.append(0, chunk, crc32c(chunk))
        writer.commit(1)
    then = os.stat(store.shard_path(version_id, 0)).st_mtime - age_seconds
    os.utime(store.shard_path(version_id, 0), (then, then))


async def collect(node: LoopbackNode, state: StateMachine) -> int:
    async def consistent(_: float) -> None:
        return None

    reads = ThreadPoolExecutor(max_workers=1)
    try:
        collector = GarbageCollector(
            state=state,
            consistent=consistent,
            reads=reads,
            stubs=Stubs([node]),  # type: ignore[arg-type]
            grace_seconds=GRACE_SECONDS,
            progress=Progress(),
        )
        info = NodeInfo(node.node_id, "zone-a", node.node_id)
        deleted, _ = await collector._collect(info)
        return deleted
    finally:
        reads.shutdown()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Rdict]:
    opened = open_db(str(tmp_path / "state"))
    yield opened
    opened.close()


def garbage_and_kept(
    db: Rdict, node: LoopbackNode, garbage_count: int
) -> tuple[StateMachine, list[str], list[str]]:
    """garbage_count old unreferenced shards; an old referenced one and a young
    unreferenced one (both kept)."""
    state = StateMachine(db)
    apply(state, CreateBucket("c", "b", "alice", 1.0))
    garbage = [new_version_id() for _ in range(garbage_count)]
    for version_id in garbage:
        write_shard(node.store, version_id, "gone", HOUR)
    referenced, young = new_version_id(), new_version_id()
    write_shard(node.store, referenced, "kept", HOUR)
    write_shard(node.store, young, "young", 0)
    version = a_version(
        key="kept",
        version_id=referenced,
        size_bytes=100,
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=64,
        placement=(ShardLocation(0, node.node_id),),
    )
    apply(state, PutObject("p", version))
    return state, garbage, [referenced, young]


def shard_ids(store: ShardStore) -> set[str]:
    return {version_id for version_id, _ in store.shard_ids()}


async def test_garbage_goes_in_one_call_and_the_rest_stays(tmp_path: Path, db: Rdict) -> None:
    async with loopback_nodes(tmp_path, 1) as (node,):
        state, _, kept = await asyncio.to_thread(garbage_and_kept, db, node, 5)
        assert await collect(node, state) == 5
        assert shard_ids(node.store) == set(kept)
        assert node.servicer.calls["DeleteShards"] == 1
        assert node.servicer.calls["DeleteShard"] == 0


async def test_past_the_cap_garbage_goes_in_several_calls(
    tmp_path: Path, db: Rdict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc_module, "DELETE_BATCH_SHARDS_MAX", 2)
    async with loopback_nodes(tmp_path, 1) as (node,):
        state, _, kept = await asyncio.to_thread(garbage_and_kept, db, node, 5)
        assert await collect(node, state) == 5
        assert shard_ids(node.store) == set(kept)
        assert node.servicer.calls["DeleteShards"] == 3  # 2 + 2 + 1


async def test_a_node_without_delete_shards_is_asked_shard_by_shard(
    tmp_path: Path, db: Rdict
) -> None:
    async with loopback_nodes(tmp_path, 1, old=True) as (node,):
        state, _, kept = await asyncio.to_thread(garbage_and_kept, db, node, 3)
        assert await collect(node, state) == 3
        assert shard_ids(node.store) == set(kept)
        assert node.servicer.calls["DeleteShard"] == 3


async def test_a_shard_rewritten_after_the_cutoff_stays(tmp_path: Path, db: Rdict) -> None:
    # Both listed as old; one is rewritten (a rebuild) after its look-up and
    # before the batch goes: the node's modified_before check keeps it.
    async with loopback_nodes(tmp_path, 1) as (node,):
        state, garbage, kept = await asyncio.to_thread(garbage_and_kept, db, node, 2)
        look_up = state.versions_of

        def looked_up_then_rewritten(bucket: str, key: str) -> list[ObjectVersion]:
            os.utime(node.store.shard_path(garbage[0], 0))
            return look_up(bucket, key)

        state.versions_of = looked_up_then_rewritten  # type: ignore[method-assign]
        assert await collect(node, state) == 1
        assert shard_ids(node.store) == {garbage[0], *kept}
        assert node.servicer.calls["DeleteShards"] == 1
