"""gateway/reclaim.py against real node servicers on 127.0.0.1: shard sets
queued together are removed with one DeleteShards call per node, and a node
that predates DeleteShards is asked shard by shard."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from gateway import reclaim
from gateway.reclaim import ShardReclaimer
from node.shard_format import ShardMeta
from proto.node_rpc import NodeStub
from tessera.checksum import crc32c
from tessera.geometry import Geometry
from tessera.ids import new_version_id
from tessera.model import ShardLocation, ShardSet
from tests.unit.loopback_nodes import CALL_METADATA, LoopbackNode, loopback_nodes

pytestmark = pytest.mark.usefixtures("loop_watchdog")

GEOMETRY = Geometry(2, 1, 64)


class Nodes:
    """What the reclaimer asks of the cluster view: a stub per node id."""

    call_metadata = CALL_METADATA

    def __init__(self, nodes: list[LoopbackNode]) -> None:
        self._stubs = {n.node_id: n.stub for n in nodes}

    def stub(self, node_id: str) -> NodeStub | None:
        return self._stubs.get(node_id)


def stored_set(nodes: list[LoopbackNode]) -> ShardSet:
    """A shard set with shard i written on nodes[i]."""
    version_id = new_version_id()
    for i, node in enumerate(nodes):
        meta = ShardMeta("b", "k", version_id, i, 2, 1, 64, 100, 1)
        with node.store.begin_write(meta) as writer:
            chunk = bytes([i]) * 50
            writer.append(0, chunk, crc32c(chunk))
            writer.commit(1)
    placement = tuple(ShardLocation(i, n.node_id) for i, n in enumerate(nodes))
    return ShardSet(version_id, 100, GEOMETRY, placement)


async def reclaimed(nodes: list[LoopbackNode], sets: list[ShardSet]) -> None:
    reclaimer = ShardReclaimer(Nodes(nodes))  # type: ignore[arg-type]
    task = asyncio.create_task(reclaimer.run())
    try:
        for shard_set in sets:
            reclaimer._queue_sets([shard_set])
        async with asyncio.timeout(10):
            while any(n.store.shard_count for n in nodes):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_sets_queued_together_take_one_call_per_node(tmp_path: Path):
    async with loopback_nodes(tmp_path, 3) as nodes:
        sets = [stored_set(nodes) for _ in range(5)]
        assert [n.store.shard_count for n in nodes] == [5, 5, 5]
        await reclaimed(nodes, sets)
        assert [dict(n.servicer.calls) for n in nodes] == [{"DeleteShards": 1}] * 3


async def test_a_node_that_predates_delete_shards_is_asked_shard_by_shard(tmp_path: Path):
    async with loopback_nodes(tmp_path, 3, old=True) as nodes:
        sets = [stored_set(nodes) for _ in range(2)]
        await reclaimed(nodes, sets)
        assert [dict(n.servicer.calls) for n in nodes] == [
            {"DeleteShards": 1, "DeleteShard": 2}
        ] * 3


async def test_a_batch_takes_at_most_its_share_of_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(reclaim, "BATCH_SHARD_SETS_MAX", 2)
    async with loopback_nodes(tmp_path, 3) as nodes:
        sets = [stored_set(nodes) for _ in range(5)]
        await reclaimed(nodes, sets)
        assert [n.servicer.calls["DeleteShards"] for n in nodes] == [3, 3, 3]


async def test_a_whole_batch_queued_goes_without_waiting_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(reclaim, "BATCH_SHARD_SETS_MAX", 2)
    monkeypatch.setattr(reclaim, "WINDOW_SECONDS", 60.0)  # reclaimed() gives up after 10 s
    async with loopback_nodes(tmp_path, 3) as nodes:
        sets = [stored_set(nodes) for _ in range(4)]
        await reclaimed(nodes, sets)
        assert [n.servicer.calls["DeleteShards"] for n in nodes] == [2, 2, 2]
