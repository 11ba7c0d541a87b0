"""`tessera admin rebuild-metadata`: the object index, rebuilt from the nodes
after the metadata state was lost (docs/metadata-recovery.md).

    tessera admin rebuild-metadata [--dry-run]

Lists the shards of every node in the cluster map with their trailers
(ListShards), plans with tessera/recovery.py, recreates the buckets (name,
owner, Object Lock, versioning) and commits the version records through
the ordinary PutObject commit, so the state machine, usage counters and
indexes are those a PUT would have made. Prints a summary: buckets, versions
rebuilt, already present, and skipped with the reason.

Invariants:
- nothing is committed unless every node of the map was listed in full (a
  partial listing could make an older version current);
- idempotent: a bucket that exists (same owner) is kept, a version already
  present is not committed again (each commit also carries a request id
  derived from the version id), so a second run changes nothing;
- versions of a key are committed oldest first, one at a time, so the
  newest ends up current; keys proceed concurrently (COMMITS_IN_FLIGHT).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import grpc.aio

from metadata.client import MetadataClient
from metadata.node_stubs import NodeStubs
from proto import tessera_pb2 as pb
from tessera import errors, limits
from tessera.geometry import Geometry
from tessera.model import VERSIONING_ENABLED, VERSIONING_SUSPENDED, NodeInfo, ObjectVersion
from tessera.recovery import BucketPlan, ListedShard, Plan, Skipped, plan, without_expired_lock

CALL_SECONDS = 30.0
COMMITS_IN_FLIGHT = 16


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rebuild = what.add_parser(
        "rebuild-metadata", help="rebuild buckets and object versions from the shards on the nodes"
    )
    rebuild.add_argument(
        "--dry-run", action="store_true", help="print what would be rebuilt, change nothing"
    )


@dataclass
class Summary:
    nodes: int = 0
    shards: int = 0
    buckets_created: int = 0
    buckets_existing: int = 0
    rebuilt: int = 0
    present: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"nodes listed:   {self.nodes} ({self.shards} shards)",
            f"buckets:        {self.buckets_created} created, {self.buckets_existing} existing",
            f"versions:       {self.rebuilt} rebuilt, {self.present} already present, "
            f"{len(self.skipped)} skipped",
        ]
        reasons: dict[str, int] = {}
        for s in self.skipped:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
        out.extend(f"  skipped, {reason}: {n}" for reason, n in sorted(reasons.items()))
        out.extend(f"  {s.bucket}/{s.key} {s.version_id}: {s.reason}" for s in self.skipped)
        return out


async def run(args: argparse.Namespace, client: MetadataClient, secret: str) -> int:
    cluster = await client.get_cluster_map(timeout=CALL_SECONDS)
    stubs = NodeStubs(secret)
    try:
        shards, unlisted = await _list_all(stubs, cluster.nodes)
    finally:
        await stubs.close()
    if unlisted:
        for node_id, reason in unlisted:
            print(f"could not list node {node_id}: {reason}", file=sys.stderr)
        print("nothing rebuilt: every node of the cluster map must be listed", file=sys.stderr)
        return 1
    if not cluster.nodes:
        print("nothing rebuilt: the cluster map has no nodes yet", file=sys.stderr)
        return 1
    the_plan = plan(shards)
    summary = Summary(nodes=len(cluster.nodes), shards=len(shards), skipped=the_plan.skipped)
    if args.dry_run:
        for b in the_plan.buckets:
            print(f"bucket {b.name} (owner {b.owner}, versioning {b.versioning or 'off'})")
        for v in the_plan.versions:
            print(f"version {v.bucket}/{v.key} {v.version_id} ({v.size_bytes} bytes)")
        summary.rebuilt = len(the_plan.versions)
        print("\n".join(["dry run, nothing changed:", *summary.lines()]))
        return 0
    await _rebuild(client, the_plan, cluster.epoch, summary)
    print("\n".join(summary.lines()))
    return 0


async def _list_all(
    stubs: NodeStubs, nodes: Iterable[NodeInfo]
) -> tuple[list[ListedShard], list[tuple[str, str]]]:
    shards: list[ListedShard] = []
    unlisted: list[tuple[str, str]] = []
    for node in nodes:
        try:
            call = stubs.stub(node.address).ListShards(
                pb.ListShardsRequest(with_trailer=True),
                timeout=limits.GC_LIST_TIMEOUT_SECONDS,
                metadata=stubs.call_metadata,
            )
            listed = [_listed(node.node_id, header) async for header in call]
        except grpc.aio.AioRpcError as exc:
            unlisted.append((node.node_id, f"{exc.code().name} {exc.details()}"))
            continue
        shards.extend(listed)
    return shards, unlisted


def _listed(node_id: str, h: pb.ShardHeader) -> ListedShard:
    return ListedShard(
        node_id=node_id,
        bucket=h.bucket,
        key=h.key,
        version_id=h.version_id,
        shard_index=h.shard_index,
        geometry=Geometry(h.data_shards, h.parity_shards, h.chunk_size_bytes),
        object_size_bytes=h.object_size_bytes,
        trailer=h.trailer,
    )


async def _rebuild(client: MetadataClient, the_plan: Plan, epoch: int, summary: Summary) -> None:
    ready: set[str] = set()
    for bucket in the_plan.buckets:
        problem = await _ensure_bucket(client, bucket, summary)
        if problem:
            summary.skipped.extend(
                Skipped(v.bucket, v.key, v.version_id, problem)
                for v in the_plan.versions
                if v.bucket == bucket.name
            )
        else:
            ready.add(bucket.name)
    by_key: dict[tuple[str, str], list[ObjectVersion]] = {}
    for v in the_plan.versions:
        if v.bucket in ready:
            by_key.setdefault((v.bucket, v.key), []).append(v)
    slots = asyncio.Semaphore(COMMITS_IN_FLIGHT)

    async def commit_key(versions: list[ObjectVersion]) -> None:
        async with slots:
            for v in versions:  # oldest first (plan order)
                await _commit(client, replace(v, map_epoch=epoch), summary)

    async with asyncio.TaskGroup() as group:
        for versions in by_key.values():
            group.create_task(commit_key(versions))
    for bucket in the_plan.buckets:
        if bucket.name in ready and bucket.versioning == VERSIONING_SUSPENDED:
            await client.put_bucket_versioning(
                bucket.name, VERSIONING_SUSPENDED, timeout=CALL_SECONDS
            )


async def _ensure_bucket(client: MetadataClient, bucket: BucketPlan, summary: Summary) -> str:
    """Creates the bucket (or keeps the one there); returns why its versions
    cannot be rebuilt, "" when they can."""
    try:
        existing = await client.get_bucket(bucket.name, timeout=CALL_SECONDS)
    except errors.NoSuchBucket:
        existing = None
    if existing is not None and existing.owner != bucket.owner:
        return "bucket exists with another owner"
    if existing is not None:
        summary.buckets_existing += 1
    else:
        await client.create_bucket(
            bucket.name,
            bucket.owner,
            timeout=CALL_SECONDS,
            object_lock=bucket.object_lock,
        )
        summary.buckets_created += 1
    if bucket.versioning or bucket.object_lock:
        # Enabled while committing: every version is kept (Suspended is set after).
        current = await client.get_bucket(bucket.name, timeout=CALL_SECONDS)
        if current.versioning != VERSIONING_ENABLED:
            await client.put_bucket_versioning(
                bucket.name, VERSIONING_ENABLED, timeout=CALL_SECONDS
            )
    return ""


async def _commit(client: MetadataClient, version: ObjectVersion, summary: Summary) -> None:
    try:
        await client.get_object_version(
            version.bucket, version.key, version.version_id, timeout=CALL_SECONDS
        )
        summary.present += 1
        return
    except (errors.NoSuchVersion, errors.NoSuchKey):
        pass
    version = replace(
        without_expired_lock(version, time.time()),
        request_id=_request_id(version.version_id),
    )
    try:
        await client.put_object(version, timeout=CALL_SECONDS)
    except errors.TesseraError as exc:
        if exc.http_status >= 500:
            raise
        summary.skipped.append(
            Skipped(version.bucket, version.key, version.version_id, f"refused: {exc.code}")
        )
        return
    summary.rebuilt += 1


def _request_id(version_id: str) -> str:
    """The same request id on every run, so a commit retried after a timeout
    is applied once (a second record of one version would otherwise be
    possible in a versioned bucket)."""
    return hashlib.sha256(f"rebuild-metadata:{version_id}".encode()).hexdigest()[:16].upper()
