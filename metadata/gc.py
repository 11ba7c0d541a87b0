"""Garbage collection of shards no committed version references.

Run by the repair leader every gc_interval_seconds: for each node that is
not down, list its shards (ListShards, with each file's mtime), keep those
younger than the grace period, then — after a read at the log's head — look
each older one up by the bucket and key its header names. A shard is
garbage when the key's current version does not hold that shard set, or its
placement does not put that shard index on that node (a failed or
overwritten write, a deleted object, a duplicate left by a node that came
back after its shards were rebuilt elsewhere). Garbage is deleted with
``modified_before`` = the cutoff, so a file rewritten since it was listed
(a fresh rebuild) is kept. A node is asked for its garbage in batches
(DeleteShards: up to DELETE_BATCH_SHARDS_MAX shards, sent once that many are
found or DELETE_BATCH_SECONDS after the first of them was; the node fsyncs
each folder once per batch); a node that predates DeleteShards is asked
shard by shard.

Invariants:
- a shard referenced by any version of its key (current or noncurrent) is
  never deleted;
- a shard younger than the grace period is never deleted: an in-flight write
  has durable shards but no commit yet, and the grace period covers the
  time from its shards becoming durable to its commit;
- a shard whose bucket does not exist is never deleted, nor, while its
  bucket is younger than the grace period, a shard written before its
  bucket was created (kept_for_rebuild): metadata that lost its state
  (restarted empty) must not collect the shards `tessera admin
  rebuild-metadata` rebuilds it from, before or while it recreates their
  bucket and commits them (docs/metadata-recovery.md). The price: shards a
  reclaim missed in a bucket that was then deleted stay until a bucket of
  that name exists again, and are collected a grace period after that;
- referenced() is pure, so the decision is tested without a cluster.

Versioning: a noncurrent version keeps its shards; referenced() is given
every version of the key (StateMachine.versions_of), so only a version
deleted by id, or a replaced null version, loses them.

Multipart: shards of an upload in progress carry the upload's bucket/key and
are referenced by the upload's part records, not a version: referenced()
counts those too, so a slow multipart upload keeps its parts however long it
takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc.aio

from metadata import metrics
from metadata.node_stubs import NodeStubs
from metadata.repair import CONSISTENT_READ_SECONDS, Consistent, Progress
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from tessera import errors, limits
from tessera.geometry import Geometry
from tessera.model import NODE_DOWN, BucketInfo, NodeInfo, ObjectVersion, Segment
from tessera.repair_plan import shard_sets_of

log = logging.getLogger(__name__)

T = TypeVar("T")
DELETE_TIMEOUT_SECONDS = 10.0
DELETE_BATCH_SHARDS_MAX = 256
# A shard found to be garbage is deleted at most this long after its lookup
# (plus the call): the same checks, a bounded wait (docs/repair.md, "GC").
DELETE_BATCH_SECONDS = 1.0


def referenced(
    current: ObjectVersion | None,
    shard_set_id: str,
    shard_index: int,
    node_id: str,
    pending_parts: Sequence[Segment] = (),
    noncurrent: Sequence[ObjectVersion] = (),
) -> bool:
    """Whether the current version of the shard's key, one of its noncurrent
    versions (a versioned bucket), or a part of an upload of that key still
    in progress, places that shard on that node; or the shard is the
    completion manifest of one of those versions (stored under the version
    id of a multipart version, on any node: gateway/manifest.py)."""
    versions = [current, *noncurrent] if current is not None else list(noncurrent)
    if any(v.segments and v.version_id == shard_set_id for v in versions):
        return True
    sets = []
    for version in versions:
        sets += shard_sets_of(version)
    placements = [s.placement for s in sets if s.shard_set_id == shard_set_id]
    placements += [p.placement for p in pending_parts if p.shard_set_id == shard_set_id]
    return any(
        loc.shard_index == shard_index and loc.node_id == node_id
        for placement in placements
        for loc in placement
    )


def kept_for_rebuild(bucket: BucketInfo | None, modified_at: float, cutoff: float) -> bool:
    """Whether a shard is kept because metadata may not know it yet: its
    bucket does not exist (lost metadata), or the bucket was created after
    the shard was written and less than a grace period ago (recreated by
    rebuild-metadata, whose commits may still be on their way). cutoff:
    now - the grace period."""
    if bucket is None:
        return True
    return modified_at < bucket.created_at and bucket.created_at > cutoff


class GarbageCollector:
    def __init__(
        self,
        *,
        state: StateMachine,
        consistent: Consistent,
        reads: Executor,
        stubs: NodeStubs,
        grace_seconds: float,
        progress: Progress,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._consistent = consistent
        self._reads = reads
        self._stubs = stubs
        self._grace = grace_seconds
        self._progress = progress
        self._clock = clock

    async def run_once(self) -> int:
        """One pass over every node that is not down; returns shards deleted."""
        await self._consistent(CONSISTENT_READ_SECONDS)
        view = await self._read(self._state.cluster_map)
        deleted = young = 0
        outcome = "ok"
        for node in view.nodes:
            if node.state == NODE_DOWN:
                continue
            try:
                d, y = await self._collect(node)
            except (grpc.aio.AioRpcError, errors.TesseraError) as exc:
                log.warning("gc: node %s skipped: %s", node.node_id, exc)
                outcome = "partial"
                continue
            deleted += d
            young += y
        metrics.GC_YOUNG_SHARDS.set(young)
        metrics.GC_PASSES.labels(outcome).inc()
        if deleted:
            log.info("gc: removed %d unreferenced shards", deleted)
        return deleted

    async def _collect(self, node: NodeInfo) -> tuple[int, int]:
        cutoff = self._clock() - self._grace
        old: list[pb.ShardHeader] = []
        young = 0
        call = self._stubs.stub(node.address).ListShards(
            pb.ListShardsRequest(),
            timeout=limits.GC_LIST_TIMEOUT_SECONDS,
            metadata=self._stubs.call_metadata,
        )
        async for header in call:
            if header.modified_at and header.modified_at < cutoff:
                old.append(header)
            else:
                young += 1
        if not old:
            return 0, young
        # Listed first, looked up after: a commit that landed meanwhile is seen.
        await self._consistent(CONSISTENT_READ_SECONDS)
        deleted = 0
        buckets: dict[str, BucketInfo | None] = {}
        garbage: list[pb.ShardHeader] = []
        found_at = 0.0  # when the first shard of the batch was found to be garbage
        for header in old:
            if garbage and time.monotonic() - found_at >= DELETE_BATCH_SECONDS:
                deleted += await self._delete(node, garbage, cutoff)
                garbage = []
            if header.bucket not in buckets:
                buckets[header.bucket] = await self._read(self._bucket, header.bucket)
            if kept_for_rebuild(buckets[header.bucket], header.modified_at, cutoff):
                continue
            versions = await self._read(self._versions, header.bucket, header.key)
            parts = await self._read(self._state.pending_parts, header.bucket, header.key)
            if referenced(
                None, header.version_id, header.shard_index, node.node_id, parts, versions
            ):
                continue
            if not garbage:
                found_at = time.monotonic()
            garbage.append(header)
            if len(garbage) >= DELETE_BATCH_SHARDS_MAX:
                deleted += await self._delete(node, garbage, cutoff)
                garbage = []
        if garbage:
            deleted += await self._delete(node, garbage, cutoff)
        return deleted, young + 0

    def _bucket(self, name: str) -> BucketInfo | None:
        try:
            return self._state.get_bucket(name)
        except errors.NoSuchBucket:
            return None

    def _versions(self, bucket: str, key: str) -> list[ObjectVersion]:
        """Every version of the key: current and noncurrent ones."""
        return self._state.versions_of(bucket, key)

    async def _delete(self, node: NodeInfo, headers: list[pb.ShardHeader], cutoff: float) -> int:
        """Deletes garbage shards of one node with one DeleteShards call (shard
        by shard on a node that predates it); returns how many it removed."""
        try:
            existed = await self._stubs.stub(node.address).delete_shards(
                [_delete_request(header, cutoff) for header in headers],
                timeout_seconds=DELETE_TIMEOUT_SECONDS,
                metadata=self._stubs.call_metadata,
            )
        except (grpc.aio.AioRpcError, ValueError) as exc:
            log.info("gc: delete on %s failed: %s", node.node_id, exc)
            return 0
        removed = [h for h, gone in zip(headers, existed, strict=True) if gone]
        for header in removed:
            self._note_deleted(node, header)
        return len(removed)

    def _note_deleted(self, node: NodeInfo, header: pb.ShardHeader) -> None:
        geometry = Geometry(header.data_shards, header.parity_shards, header.chunk_size_bytes)
        metrics.GC_DELETED_SHARDS.inc()
        metrics.GC_DELETED_BYTES.inc(geometry.shard_size_bytes(header.object_size_bytes))
        self._progress.gc_deleted += 1
        log.info(
            "gc: removed %s.%d (%s/%s) from %s",
            header.version_id,
            header.shard_index,
            header.bucket,
            header.key,
            node.node_id,
        )

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)


def _delete_request(header: pb.ShardHeader, cutoff: float) -> pb.DeleteShardRequest:
    """Deletes the listed shard unless its file was written at or after cutoff."""
    return pb.DeleteShardRequest(
        version_id=header.version_id, shard_index=header.shard_index, modified_before=cutoff
    )
