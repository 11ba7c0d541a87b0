"""Whether a node may leave the cluster map for good (`tessera admin node remove`).

The service reads, at the log's head, every shard set that names the node:
the versions' (current and noncurrent) and the parts of uploads still in
progress. A plain removal is allowed only when none does (the node was
drained, or it is down and repair rebuilt its shards elsewhere). A forced
removal (a node that is dead for good) is allowed when every such set stays
readable without it; repair then rebuilds the slots that name it, as it does
for any unknown node. The RemoveNode mutation itself checks the node's state
(draining or down; forced: down), in log order.

Invariant: the check never holds more than one page of versions or uploads
in memory; it counts, it does not collect.

A write in flight while the check runs may still commit a placement naming
the node (a gateway only places on up nodes, but its map can be a few
seconds old, and a degraded write may use a down node): after the removal
that slot is missing, and repair rebuilds it like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from metadata.state import StateMachine
from tessera import errors
from tessera.model import NodeInfo
from tessera.repair_plan import ShardSet, readable_without, shard_sets_of, shard_sets_of_upload

T = TypeVar("T")

SCAN_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Naming:
    """What still names a node: shard placements, the sets they are in, and
    how many of those sets would be unreadable without it."""

    placements: int = 0
    shard_sets: int = 0
    unreadable: int = 0


def count(shard_sets: list[ShardSet], node_id: str, nodes: dict[str, NodeInfo]) -> Naming:
    placements = sets = unreadable = 0
    for shard_set in shard_sets:
        named = sum(1 for loc in shard_set.placement if loc.node_id == node_id)
        if not named:
            continue
        placements += named
        sets += 1
        if not readable_without(shard_set, nodes, node_id):
            unreadable += 1
    return Naming(placements, sets, unreadable)


def add(a: Naming, b: Naming) -> Naming:
    return Naming(
        a.placements + b.placements, a.shard_sets + b.shard_sets, a.unreadable + b.unreadable
    )


async def naming(state: StateMachine, reads: Executor, node_id: str) -> Naming:
    """Every shard placement that names node_id, at the applied state."""

    async def read(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(reads, fn, *args)

    view = await read(state.cluster_map)
    nodes = {n.node_id: n for n in view.nodes}
    total = Naming()
    after = b""
    while True:
        versions, after = await read(state.versions_page, after, SCAN_PAGE)
        sets = [s for v in versions for s in shard_sets_of(v)]
        total = add(total, count(sets, node_id, nodes))
        if not after:
            break
    while True:
        uploads, after = await read(state.uploads_page, after, SCAN_PAGE)
        sets = [s for upload, parts in uploads for s in shard_sets_of_upload(upload, parts)]
        total = add(total, count(sets, node_id, nodes))
        if not after:
            break
    return total


def check(node_id: str, found: Naming, *, force: bool) -> None:
    """Raises InvalidRequest when the node may not be removed (see the module doc)."""
    if not force and found.placements:
        raise errors.InvalidRequest(
            f"node {node_id!r} still holds {found.placements} shard placements "
            f"({found.shard_sets} shard sets): drain it and wait until repair status shows "
            "no drain work (or, for a dead node, until repair has rebuilt them), "
            "or use --force for a node that is gone for good"
        )
    if force and found.unreadable:
        raise errors.InvalidRequest(
            f"node {node_id!r} holds shards of {found.unreadable} shard sets that are "
            f"unreadable without it ({found.placements} placements name it): "
            "bring it or other nodes back first"
        )
