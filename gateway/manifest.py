"""The completion manifest of a multipart version (docs/metadata-recovery.md).

A completed multipart version's data lives in its parts' shard sets, whose
shards know their upload and part number but not the object they became.
After CompleteMultipartUpload commits, the gateway writes the committed
record (segments included) as the trailer of a shard of no data, under the
version id, to each of the n nodes the version id places on: every copy is
the whole manifest, so one surviving node is enough for
`tessera admin rebuild-metadata`.

Invariants:
- written only after the commit, from the record metadata returned, so a
  manifest never names a version that was not committed;
- best effort, bounded by MANIFEST_TIMEOUT_SECONDS: the object is committed
  whatever happens here, so a failure is logged, never answered as an error
  (the version is then not rebuildable from the nodes);
- GC keeps a manifest as long as its version exists (metadata/gc.py).
"""

from __future__ import annotations

import asyncio
import logging

import grpc.aio

from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from proto import tessera_pb2 as pb
from tessera.geometry import Geometry
from tessera.model import BucketInfo, ObjectVersion
from tessera.placement import NotEnoughNodes, place
from tessera.recovery import BucketHints, encode_trailer

log = logging.getLogger(__name__)

MANIFEST_TIMEOUT_SECONDS = 10.0


async def write_manifest(
    version: ObjectVersion,
    bucket: BucketInfo,
    geometry: Geometry,
    cluster: ClusterView,
    deadline: Deadline,
) -> int:
    """Writes the manifest of a committed multipart version; returns the
    number of nodes that made it durable."""
    assert version.segments, "only a multipart version has a manifest"
    hints = BucketHints(bucket.owner, bucket.versioning, bucket.object_lock_enabled)
    trailer = encode_trailer(version, hints)
    try:
        node_ids = place(version.version_id, cluster.fallback_candidates(), geometry)
    except NotEnoughNodes as exc:
        log.warning("manifest of %s not written: %s", version.version_id, exc)
        return 0
    timeout = max(0.001, min(MANIFEST_TIMEOUT_SECONDS, deadline.remaining()))
    results = await asyncio.gather(
        *(
            _put(cluster, node_id, i, version, geometry, trailer, timeout)
            for i, node_id in enumerate(node_ids)
        )
    )
    stored = sum(results)
    if stored < len(node_ids):
        log.warning(
            "manifest of %s stored on %d of %d nodes", version.version_id, stored, len(node_ids)
        )
    return stored


async def _put(
    cluster: ClusterView,
    node_id: str,
    shard_index: int,
    version: ObjectVersion,
    geometry: Geometry,
    trailer: bytes,
    timeout_seconds: float,
) -> bool:
    stub = cluster.stub(node_id) if cluster.is_up(node_id) else None
    if stub is None:
        return False
    header = pb.ShardHeader(
        bucket=version.bucket,
        key=version.key,
        version_id=version.version_id,
        shard_index=shard_index,
        data_shards=geometry.data_shards,
        parity_shards=geometry.parity_shards,
        chunk_size_bytes=geometry.chunk_size_bytes,
        object_size_bytes=0,
        stripe_count=0,
    )
    requests = [
        pb.PutShardRequest(header=header),
        pb.PutShardRequest(finish=pb.Finish(chunk_count=0, trailer=trailer)),
    ]
    try:
        await stub.PutShard(iter(requests), timeout=timeout_seconds, metadata=cluster.call_metadata)
    except grpc.aio.AioRpcError as exc:
        log.warning("manifest of %s to %s failed: %s", version.version_id, node_id, exc.code())
        return False
    return True
