"""Prompt removal of the shards of versions that metadata no longer references
(an overwritten or deleted key).

Only versions whose replacement or deletion is already committed are queued,
so nothing reachable is ever removed. The queue is bounded: when it is full
the version is left to the background GC instead of growing memory, and a
failed delete is likewise left to GC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc.aio

from gateway.cluster import ClusterView
from proto import tessera_pb2 as pb
from tessera.model import ObjectVersion

log = logging.getLogger(__name__)

QUEUE_VERSIONS_MAX = 10_000
DELETE_TIMEOUT_SECONDS = 5.0


class ShardReclaimer:
    def __init__(self, cluster: ClusterView) -> None:
        self._cluster = cluster
        self._queue: asyncio.Queue[ObjectVersion] = asyncio.Queue(QUEUE_VERSIONS_MAX)

    def unreferenced(self, version: ObjectVersion | None) -> None:
        """Queues a version that no committed record references any more."""
        if version is None or not version.placement:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(version)

    async def run(self) -> None:
        while True:
            version = await self._queue.get()
            await asyncio.gather(
                *(self._delete(version, loc.shard_index, loc.node_id) for loc in version.placement)
            )

    async def _delete(self, version: ObjectVersion, shard_index: int, node_id: str) -> None:
        stub = self._cluster.stub(node_id)
        if stub is None:
            return
        try:
            await stub.DeleteShard(
                pb.DeleteShardRequest(version_id=version.version_id, shard_index=shard_index),
                timeout=DELETE_TIMEOUT_SECONDS,
                metadata=self._cluster.call_metadata,
            )
        except grpc.aio.AioRpcError as exc:
            log.info(
                "shard %s.%d on %s left to GC: %s",
                version.version_id,
                shard_index,
                node_id,
                exc.code().name,
            )
