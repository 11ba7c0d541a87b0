"""Prompt removal of the shards that metadata no longer references: the shard
sets of an overwritten or deleted version, multipart parts that were replaced,
left out of a completed upload, or aborted.

Only versions whose replacement or deletion is already committed are queued,
so nothing reachable is ever removed. The queue is bounded: when it is full
the version is left to the background GC instead of growing memory, and a
failed delete is likewise left to GC.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import grpc.aio

from gateway.cluster import ClusterView
from proto import tessera_pb2 as pb
from tessera.model import ObjectVersion, Segment, ShardSet

log = logging.getLogger(__name__)

QUEUE_SHARD_SETS_MAX = 10_000
DELETE_TIMEOUT_SECONDS = 5.0


class ShardReclaimer:
    def __init__(self, cluster: ClusterView) -> None:
        self._cluster = cluster
        self._queue: asyncio.Queue[ShardSet] = asyncio.Queue(QUEUE_SHARD_SETS_MAX)

    def unreferenced(self, version: ObjectVersion | None) -> None:
        """Queues the shard sets of a version that no committed record
        references any more."""
        if version is not None:
            self._queue_sets(version.shard_sets())

    def unreferenced_parts(self, parts: Iterable[Segment]) -> None:
        """Queues multipart parts that no record references any more."""
        self._queue_sets(p.shard_set() for p in parts)

    def _queue_sets(self, shard_sets: Iterable[ShardSet]) -> None:
        for shard_set in shard_sets:
            if not shard_set.placement:
                continue
            try:
                self._queue.put_nowait(shard_set)
            except asyncio.QueueFull:
                return

    async def run(self) -> None:
        while True:
            shard_set = await self._queue.get()
            await asyncio.gather(
                *(
                    self._delete(shard_set, loc.shard_index, loc.node_id)
                    for loc in shard_set.placement
                )
            )

    async def _delete(self, shard_set: ShardSet, shard_index: int, node_id: str) -> None:
        stub = self._cluster.stub(node_id)
        if stub is None:
            return
        try:
            await stub.DeleteShard(
                pb.DeleteShardRequest(version_id=shard_set.shard_set_id, shard_index=shard_index),
                timeout=DELETE_TIMEOUT_SECONDS,
                metadata=self._cluster.call_metadata,
            )
        except grpc.aio.AioRpcError as exc:
            log.info(
                "shard %s.%d on %s left to GC: %s",
                shard_set.shard_set_id,
                shard_index,
                node_id,
                exc.code().name,
            )
