"""Conversions between protobuf messages and the plain records of tessera.model."""

from __future__ import annotations

from proto import tessera_pb2 as pb
from tessera.model import (
    BucketInfo,
    ClusterMapView,
    ListPage,
    NodeInfo,
    ObjectVersion,
    ShardLocation,
)


def bucket_to_pb(b: BucketInfo) -> pb.BucketRecord:
    return pb.BucketRecord(name=b.name, owner=b.owner, created_at=b.created_at)


def bucket_from_pb(m: pb.BucketRecord) -> BucketInfo:
    return BucketInfo(name=m.name, owner=m.owner, created_at=m.created_at)


def version_to_pb(v: ObjectVersion) -> pb.ObjectRecord:
    return pb.ObjectRecord(
        bucket=v.bucket,
        key=v.key,
        version_id=v.version_id,
        size_bytes=v.size_bytes,
        etag=v.etag,
        content_type=v.content_type,
        user_metadata=v.user_metadata,
        last_modified=v.last_modified,
        data_shards=v.data_shards,
        parity_shards=v.parity_shards,
        chunk_size_bytes=v.chunk_size_bytes,
        placement=[
            pb.ShardPlacement(shard_index=p.shard_index, node_id=p.node_id) for p in v.placement
        ],
        map_epoch=v.map_epoch,
        request_id=v.request_id,
        system_metadata=v.system_metadata,
        inline_data=v.inline_data,
    )


def version_from_pb(m: pb.ObjectRecord) -> ObjectVersion:
    return ObjectVersion(
        bucket=m.bucket,
        key=m.key,
        version_id=m.version_id,
        size_bytes=m.size_bytes,
        etag=m.etag,
        content_type=m.content_type,
        last_modified=m.last_modified,
        data_shards=m.data_shards,
        parity_shards=m.parity_shards,
        chunk_size_bytes=m.chunk_size_bytes,
        placement=tuple(ShardLocation(p.shard_index, p.node_id) for p in m.placement),
        map_epoch=m.map_epoch,
        user_metadata=dict(m.user_metadata),
        system_metadata=dict(m.system_metadata),
        request_id=m.request_id,
        inline_data=bytes(m.inline_data),
    )


def node_to_pb(n: NodeInfo) -> pb.NodeRecord:
    return pb.NodeRecord(
        node_id=n.node_id,
        zone=n.zone,
        address=n.address,
        weight=n.weight,
        capacity_bytes=n.capacity_bytes,
        used_bytes=n.used_bytes,
        state=n.state,
        last_heartbeat=n.last_heartbeat,
    )


def node_from_pb(m: pb.NodeRecord) -> NodeInfo:
    return NodeInfo(
        node_id=m.node_id,
        zone=m.zone,
        address=m.address,
        weight=m.weight or 1.0,
        capacity_bytes=m.capacity_bytes,
        used_bytes=m.used_bytes,
        state=m.state,
        last_heartbeat=m.last_heartbeat,
    )


def map_to_pb(view: ClusterMapView) -> pb.ClusterMap:
    return pb.ClusterMap(epoch=view.epoch, nodes=[node_to_pb(n) for n in view.nodes])


def map_from_pb(m: pb.ClusterMap) -> ClusterMapView:
    return ClusterMapView(epoch=m.epoch, nodes=tuple(node_from_pb(n) for n in m.nodes))


def page_to_pb(page: ListPage) -> pb.ListObjectsResponse:
    return pb.ListObjectsResponse(
        objects=[version_to_pb(v) for v in page.objects],
        common_prefixes=list(page.common_prefixes),
        is_truncated=page.is_truncated,
        next_start_after=page.next_start_after,
    )


def page_from_pb(m: pb.ListObjectsResponse) -> ListPage:
    return ListPage(
        objects=tuple(version_from_pb(v) for v in m.objects),
        common_prefixes=tuple(m.common_prefixes),
        is_truncated=m.is_truncated,
        next_start_after=m.next_start_after,
    )
