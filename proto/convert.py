"""Conversions between protobuf messages and the plain records of tessera.model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from proto import tessera_pb2 as pb
from tessera import fastjson
from tessera.listed_json import listed
from tessera.model import (
    AccessKeyInfo,
    BucketInfo,
    ClusterMapView,
    KmsKeyInfo,
    ListPage,
    MultipartUpload,
    NodeInfo,
    ObjectVersion,
    PartsPage,
    Segment,
    ShardLocation,
    UploadsPage,
    UserInfo,
    VersionsPage,
    VersionSummary,
)
from tessera.storage_class import STANDARD, class_of
from tessera.usage import Quota


def _placement_to_pb(placement: tuple[ShardLocation, ...]) -> list[pb.ShardPlacement]:
    return [pb.ShardPlacement(shard_index=p.shard_index, node_id=p.node_id) for p in placement]


def _placement_from_pb(placement: object) -> tuple[ShardLocation, ...]:
    return tuple(ShardLocation(p.shard_index, p.node_id) for p in placement)  # type: ignore[attr-defined]


def bucket_to_pb(b: BucketInfo) -> pb.BucketRecord:
    return pb.BucketRecord(
        name=b.name,
        owner=b.owner,
        created_at=b.created_at,
        acl=b.acl,
        policy=b.policy,
        cors=b.cors,
        versioning=b.versioning,
        lifecycle=b.lifecycle,
        tags=b.tags,
        website=b.website,
        cache_control=b.cache_control,
        object_lock=b.object_lock,
        ownership=b.ownership,
        public_access_block=b.public_access_block,
        encryption=b.encryption,
    )


def bucket_from_pb(m: pb.BucketRecord) -> BucketInfo:
    return BucketInfo(
        name=m.name,
        owner=m.owner,
        created_at=m.created_at,
        acl=m.acl or "private",
        policy=m.policy,
        cors=m.cors,
        versioning=m.versioning,
        lifecycle=m.lifecycle,
        tags=m.tags,
        website=m.website,
        cache_control=m.cache_control,
        object_lock=m.object_lock,
        ownership=m.ownership,
        public_access_block=m.public_access_block,
        encryption=m.encryption,
    )


def user_to_pb(u: UserInfo) -> pb.UserRecord:
    return pb.UserRecord(name=u.name, created_at=u.created_at)


def user_from_pb(m: pb.UserRecord) -> UserInfo:
    return UserInfo(name=m.name, created_at=m.created_at)


def access_key_to_pb(k: AccessKeyInfo) -> pb.AccessKeyRecord:
    return pb.AccessKeyRecord(
        access_key_id=k.access_key_id,
        user=k.user,
        sealed_secret=k.sealed_secret,
        created_at=k.created_at,
    )


def access_key_from_pb(m: pb.AccessKeyRecord) -> AccessKeyInfo:
    return AccessKeyInfo(
        access_key_id=m.access_key_id,
        user=m.user,
        sealed_secret=bytes(m.sealed_secret),
        created_at=m.created_at,
    )


def kms_key_to_pb(k: KmsKeyInfo) -> pb.KmsKeyRecord:
    return pb.KmsKeyRecord(
        key_id=k.key_id, alias=k.alias, wrapped_key=k.wrapped_key, created_at=k.created_at
    )


def kms_key_from_pb(m: pb.KmsKeyRecord) -> KmsKeyInfo:
    return KmsKeyInfo(
        key_id=m.key_id, alias=m.alias, wrapped_key=bytes(m.wrapped_key), created_at=m.created_at
    )


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
        placement=_placement_to_pb(v.placement),
        map_epoch=v.map_epoch,
        request_id=v.request_id,
        system_metadata=v.system_metadata,
        inline_data=v.inline_data,
        segments=[segment_to_pb(s) for s in v.segments],
        s3_version_id=v.s3_version_id,
        delete_marker=v.delete_marker,
        tags=v.tags,
        acl=v.acl,
        lock_mode=v.lock_mode,
        retain_until=v.retain_until,
        legal_hold=v.legal_hold,
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
        placement=_placement_from_pb(m.placement),
        map_epoch=m.map_epoch,
        user_metadata=dict(m.user_metadata),
        system_metadata=dict(m.system_metadata),
        request_id=m.request_id,
        inline_data=bytes(m.inline_data),
        segments=tuple(segment_from_pb(s) for s in m.segments),
        s3_version_id=m.s3_version_id,
        delete_marker=m.delete_marker,
        tags=dict(m.tags),
        acl=m.acl,
        lock_mode=m.lock_mode,
        retain_until=m.retain_until,
        legal_hold=m.legal_hold,
    )


def segment_to_pb(s: Segment) -> pb.SegmentRecord:
    return pb.SegmentRecord(
        shard_set_id=s.shard_set_id,
        part_number=s.part_number,
        size_bytes=s.size_bytes,
        etag=s.etag,
        data_shards=s.data_shards,
        parity_shards=s.parity_shards,
        chunk_size_bytes=s.chunk_size_bytes,
        placement=_placement_to_pb(s.placement),
        last_modified=s.last_modified,
        checksums=s.checksums,
    )


def segment_from_pb(m: pb.SegmentRecord) -> Segment:
    return Segment(
        shard_set_id=m.shard_set_id,
        part_number=m.part_number,
        size_bytes=m.size_bytes,
        etag=m.etag,
        data_shards=m.data_shards,
        parity_shards=m.parity_shards,
        chunk_size_bytes=m.chunk_size_bytes,
        placement=_placement_from_pb(m.placement),
        last_modified=m.last_modified,
        checksums=dict(m.checksums),
    )


def upload_to_pb(u: MultipartUpload) -> pb.UploadRecord:
    return pb.UploadRecord(
        bucket=u.bucket,
        key=u.key,
        upload_id=u.upload_id,
        initiated=u.initiated,
        owner=u.owner,
        content_type=u.content_type,
        user_metadata=u.user_metadata,
        system_metadata=u.system_metadata,
        tags=u.tags,
        checksum_algorithm=u.checksum_algorithm,
        checksum_type=u.checksum_type,
        acl=u.acl,
        lock_mode=u.lock_mode,
        retain_until=u.retain_until,
        legal_hold=u.legal_hold,
    )


def upload_from_pb(m: pb.UploadRecord) -> MultipartUpload:
    return MultipartUpload(
        bucket=m.bucket,
        key=m.key,
        upload_id=m.upload_id,
        initiated=m.initiated,
        owner=m.owner,
        content_type=m.content_type,
        user_metadata=dict(m.user_metadata),
        tags=dict(m.tags),
        system_metadata=dict(m.system_metadata),
        checksum_algorithm=m.checksum_algorithm,
        checksum_type=m.checksum_type,
        acl=m.acl,
        lock_mode=m.lock_mode,
        retain_until=m.retain_until,
        legal_hold=m.legal_hold,
    )


def parts_page_to_pb(page: PartsPage) -> pb.ListPartsResponse:
    return pb.ListPartsResponse(
        upload=upload_to_pb(page.upload),
        parts=[segment_to_pb(p) for p in page.parts],
        is_truncated=page.is_truncated,
    )


def parts_page_from_pb(m: pb.ListPartsResponse) -> PartsPage:
    return PartsPage(
        upload=upload_from_pb(m.upload),
        parts=tuple(segment_from_pb(p) for p in m.parts),
        is_truncated=m.is_truncated,
    )


def uploads_page_to_pb(page: UploadsPage) -> pb.ListUploadsResponse:
    return pb.ListUploadsResponse(
        uploads=[upload_to_pb(u) for u in page.uploads],
        common_prefixes=list(page.common_prefixes),
        is_truncated=page.is_truncated,
    )


def uploads_page_from_pb(m: pb.ListUploadsResponse) -> UploadsPage:
    return UploadsPage(
        uploads=tuple(upload_from_pb(u) for u in m.uploads),
        common_prefixes=tuple(m.common_prefixes),
        is_truncated=m.is_truncated,
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
        store_id=n.store_id,
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
        store_id=m.store_id,
    )


def map_to_pb(view: ClusterMapView) -> pb.ClusterMap:
    return pb.ClusterMap(epoch=view.epoch, nodes=[node_to_pb(n) for n in view.nodes])


def map_from_pb(m: pb.ClusterMap) -> ClusterMapView:
    return ClusterMapView(epoch=m.epoch, nodes=tuple(node_from_pb(n) for n in m.nodes))


def _fill_summary(record: pb.ObjectRecord, v: VersionSummary) -> None:
    """Writes a VersionSummary into an empty record (see _fill_summary_fields)."""
    _fill_summary_fields(
        record,
        v.key,
        v.version_id,
        v.size_bytes,
        v.etag,
        v.last_modified,
        v.s3_version_id,
        v.delete_marker,
        v.system_metadata,
    )


def _fill_summary_fields(
    record: pb.ObjectRecord,
    key: str,
    version_id: str,
    size_bytes: int,
    etag: str,
    last_modified: float,
    s3_version_id: str,
    delete_marker: bool,
    system_metadata: dict[str, str] | None,
) -> None:
    """Writes what a listing shows of a version — its key, ids, size, ETag,
    time and system metadata (the storage class, checksums), not where its data
    is — into an empty record, in place (no copy of a thousand messages)."""
    record.key = key
    record.version_id = version_id
    record.size_bytes = size_bytes
    record.etag = etag
    record.last_modified = last_modified
    record.s3_version_id = s3_version_id
    record.delete_marker = delete_marker
    if system_metadata:  # a map field's update is Python-level: skip it when empty
        record.system_metadata.update(system_metadata)


def summary_records_to_pb(
    records: Iterable[bytes],
    common_prefixes: Sequence[str],
    is_truncated: bool,
    next_start_after: str,
) -> pb.ListObjectsResponse:
    """A ListObjects summary page of stored version records (tessera.model's
    JSON), each decoded straight into its message: what a listing shows of a
    version (VersionSummary's fields), not where its data is. Half the cost of
    building a VersionSummary per record first (docs/benchmarks.md, "Listing
    pages")."""
    m = pb.ListObjectsResponse(
        common_prefixes=common_prefixes,
        is_truncated=is_truncated,
        next_start_after=next_start_after,
    )
    add = m.objects.add
    for raw in records:
        d = fastjson.loads(raw)  # VersionSummary's fields are the record's own
        _fill_summary_fields(
            add(),
            d["key"],
            d["version_id"],
            d["size_bytes"],
            d["etag"],
            d["last_modified"],
            d.get("s3_version_id", ""),
            d.get("delete_marker", False),
            d.get("system_metadata"),
        )
    return m


def summary_records_to_columns(
    records: Iterable[bytes],
    common_prefixes: Sequence[str],
    is_truncated: bool,
    next_start_after: str,
) -> pb.ListObjectsResponse:
    """A ListObjects page of stored version records as columns: one list per
    field a listing shows (key, time, ETag, size, storage class), each set on
    the message in one call. Per record that is a decode of just those fields
    (tessera.listed_json) and five appends, against a whole decode, a message
    and eight fields set one by one in summary_records_to_pb; the gateway
    reads it back as five lists (docs/metadata.md, "Listing pages as columns")."""
    keys: list[str] = []
    times: list[float] = []
    etags: list[str] = []
    sizes: list[int] = []
    classes: list[str] = []
    for raw in records:
        f = listed(raw)
        keys.append(f.key)
        times.append(f.last_modified)
        etags.append(f.etag)
        sizes.append(f.size_bytes)
        classes.append(class_of(f.system_metadata) if f.system_metadata else STANDARD)
    m = pb.ListObjectsResponse(
        common_prefixes=common_prefixes,
        is_truncated=is_truncated,
        next_start_after=next_start_after,
    )
    columns = m.columns
    columns.keys.extend(keys)
    columns.last_modified.extend(times)
    columns.etags.extend(etags)
    columns.size_bytes.extend(sizes)
    columns.storage_classes.extend(classes)
    return m


def version_summary_from_pb(m: pb.ObjectRecord) -> VersionSummary:
    return VersionSummary(
        key=m.key,
        version_id=m.version_id,
        size_bytes=m.size_bytes,
        etag=m.etag,
        last_modified=m.last_modified,
        system_metadata=dict(m.system_metadata) if m.system_metadata else {},
        s3_version_id=m.s3_version_id,
        delete_marker=m.delete_marker,
    )


def page_to_pb(page: ListPage[ObjectVersion]) -> pb.ListObjectsResponse:
    return pb.ListObjectsResponse(
        objects=[version_to_pb(v) for v in page.objects],
        common_prefixes=list(page.common_prefixes),
        is_truncated=page.is_truncated,
        next_start_after=page.next_start_after,
    )


def page_from_pb(m: pb.ListObjectsResponse) -> ListPage[ObjectVersion]:
    return ListPage(
        objects=tuple(version_from_pb(v) for v in m.objects),
        common_prefixes=tuple(m.common_prefixes),
        is_truncated=m.is_truncated,
        next_start_after=m.next_start_after,
    )


def summary_versions_page_to_pb(page: VersionsPage[VersionSummary]) -> pb.ListVersionsResponse:
    m = pb.ListVersionsResponse(
        common_prefixes=page.common_prefixes,
        is_truncated=page.is_truncated,
        next_key_marker=page.next_key_marker,
        next_version_id_marker=page.next_version_id_marker,
    )
    for v, latest in page.versions:
        entry = m.versions.add(is_latest=latest)
        _fill_summary(entry.version, v)
    return m


def summary_versions_page_from_pb(m: pb.ListVersionsResponse) -> VersionsPage[VersionSummary]:
    return VersionsPage(
        versions=tuple((version_summary_from_pb(e.version), e.is_latest) for e in m.versions),
        common_prefixes=tuple(m.common_prefixes),
        is_truncated=m.is_truncated,
        next_key_marker=m.next_key_marker,
        next_version_id_marker=m.next_version_id_marker,
    )


def versions_page_to_pb(page: VersionsPage[ObjectVersion]) -> pb.ListVersionsResponse:
    return pb.ListVersionsResponse(
        versions=[
            pb.VersionEntry(version=version_to_pb(v), is_latest=latest)
            for v, latest in page.versions
        ],
        common_prefixes=page.common_prefixes,
        is_truncated=page.is_truncated,
        next_key_marker=page.next_key_marker,
        next_version_id_marker=page.next_version_id_marker,
    )


def versions_page_from_pb(m: pb.ListVersionsResponse) -> VersionsPage[ObjectVersion]:
    return VersionsPage(
        versions=tuple((version_from_pb(e.version), e.is_latest) for e in m.versions),
        common_prefixes=tuple(m.common_prefixes),
        is_truncated=m.is_truncated,
        next_key_marker=m.next_key_marker,
        next_version_id_marker=m.next_version_id_marker,
    )


def quota_to_pb(scope: str, name: str, quota: Quota | None) -> pb.QuotaRecord:
    record = pb.QuotaRecord(scope=scope, name=name, is_set=quota is not None)
    if quota is not None:
        if quota.max_bytes is not None:
            record.max_bytes = quota.max_bytes
        if quota.max_objects is not None:
            record.max_objects = quota.max_objects
    return record


def quota_from_pb(record: pb.QuotaRecord) -> Quota | None:
    if not record.is_set:
        return None
    return Quota(
        record.max_bytes if record.HasField("max_bytes") else None,
        record.max_objects if record.HasField("max_objects") else None,
    )
