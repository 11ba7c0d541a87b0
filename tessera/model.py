"""Plain records shared by the roles: buckets, object versions, nodes, the map,
multipart uploads and their parts.

Protobuf messages stay at the gRPC edges (proto/convert.py turns them into
these); metadata stores these records as JSON (to_json / from_json).

Invariant: a version's data lives in exactly the shard sets that
``ObjectVersion.shard_sets()`` names — the version's own (single-part: shard
set id = version id, its own placement) or, for a completed multipart upload,
its segments in order (its own placement then stays empty). Whoever reads,
repairs or collects shards goes through shard_sets(), never placement alone.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tessera import fastjson
from tessera.geometry import Geometry
from tessera.listed_json import listed
from tessera.object_lock import Lock
from tessera.sse import sealed_size_bytes
from tessera.sse_keys import WRAPPED_DATA_KEY

NODE_UP = "up"
NODE_DOWN = "down"
NODE_DRAINING = "draining"

# A bucket's versioning status: "" (never enabled), then Enabled or Suspended.
VERSIONING_ENABLED = "Enabled"
VERSIONING_SUSPENDED = "Suspended"
VERSIONING_STATUSES = (VERSIONING_ENABLED, VERSIONING_SUSPENDED)
NULL_VERSION_ID = "null"


@dataclass(frozen=True, slots=True)
class BucketInfo:
    """A bucket. owner is the owning user's id (tessera.access.owner_id);
    acl a canned ACL; policy, cors, lifecycle (tessera.lifecycle rules), tags
    (an object of tag key to value) and website JSON text ("" for none);
    cache_control the default Cache-Control of its public objects ("" for none,
    tessera/caching.py); encryption the default encryption JSON text
    (tessera/bucket_encryption.py, "" for none)."""

    name: str
    owner: str
    created_at: float
    versioning: str = ""  # "", VERSIONING_ENABLED or VERSIONING_SUSPENDED
    acl: str = "private"
    policy: str = ""
    cors: str = ""
    lifecycle: str = ""
    tags: str = ""
    website: str = ""
    cache_control: str = ""
    # Object Lock (tessera/object_lock.py): "" not enabled, else the JSON of
    # the default rule ("{}" for none). Enabled only at creation, never undone.
    object_lock: str = ""
    # Ownership controls ("" none, else an access.OWNERSHIP_RULES value) and
    # PublicAccessBlock (access.PublicAccessBlock JSON, "" none).
    ownership: str = ""
    public_access_block: str = ""

    @property
    def object_lock_enabled(self) -> bool:
        return bool(self.object_lock)

    encryption: str = ""


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AccessKeyInfo:
    """An access key of a user; its secret only sealed (tessera.sealing)."""

    access_key_id: str
    user: str
    sealed_secret: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class KmsKeyInfo:
    """A key of the built-in key service (SSE-KMS); the key itself only
    wrapped by the cluster master key (tessera/sse_keys.py)."""

    key_id: str  # a UUID
    alias: str  # unique name, "" for none
    wrapped_key: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class ShardLocation:
    shard_index: int
    node_id: str


@dataclass(frozen=True, slots=True)
class ShardSet:
    """One erasure-coded run of bytes: the shards written under one id.

    A single-part version is one shard set (its id is the version id); a
    multipart version is one shard set per part (segment), in part order.
    """

    shard_set_id: str
    size_bytes: int
    geometry: Geometry
    placement: tuple[ShardLocation, ...]


@dataclass(frozen=True)
class Segment:
    """One part of a multipart upload, stored erasure-coded under its own shard
    set id; once the upload completes, one segment of the object's data."""

    shard_set_id: str
    part_number: int
    size_bytes: int
    etag: str  # hex MD5 of the part, without quotes
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    placement: tuple[ShardLocation, ...]
    last_modified: float = 0.0
    # S3 additional checksums of the part: algorithm (lower case) -> base64 value
    checksums: dict[str, str] = field(default_factory=dict)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.data_shards, self.parity_shards, self.chunk_size_bytes)

    def shard_set(self, *, sealed: bool = False) -> ShardSet:
        """The part's shard set; sealed: its bytes are an encrypted stream
        (tessera/sse.py), larger than the part by one tag per block."""
        size = sealed_size_bytes(self.size_bytes, self.geometry) if sealed else self.size_bytes
        return ShardSet(self.shard_set_id, size, self.geometry, self.placement)


@dataclass(frozen=True)
class ObjectVersion:
    """One committed version of a key: what GET needs to find and check its data."""

    bucket: str
    key: str
    version_id: str
    size_bytes: int
    etag: str  # hex MD5 for single-part objects, without quotes
    content_type: str
    last_modified: float
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    placement: tuple[ShardLocation, ...]
    map_epoch: int = 0
    user_metadata: dict[str, str] = field(default_factory=dict)
    system_metadata: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    inline_data: bytes = b""
    # A completed multipart upload: its data is these segments concatenated.
    segments: tuple[Segment, ...] = ()
    # Versioning (docs/versioning.md): the S3 version id — "" in a bucket that
    # never had versioning, "null" for a null version, else version_id.
    s3_version_id: str = ""
    delete_marker: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    acl: str = ""  # canned ACL; "" is private
    # Object Lock (docs/object-lock.md): retention mode ("" none, GOVERNANCE,
    # COMPLIANCE), until when (unix seconds), and the legal hold.
    lock_mode: str = ""
    retain_until: float = 0.0
    legal_hold: bool = False

    @property
    def lock(self) -> Lock:
        return Lock(self.lock_mode, self.retain_until, self.legal_hold)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.data_shards, self.parity_shards, self.chunk_size_bytes)

    @property
    def is_multipart(self) -> bool:
        return bool(self.segments)

    @property
    def is_encrypted(self) -> bool:
        """Its shard sets hold sealed streams (docs/encryption.md)."""
        return WRAPPED_DATA_KEY in self.system_metadata

    def plain_sizes(self) -> list[int]:
        """Bytes of object data in each shard set, in data order."""
        if self.segments:
            return [s.size_bytes for s in self.segments]
        return [self.size_bytes] if self.placement else []

    def shard_sets(self) -> list[ShardSet]:
        """The shard sets holding this version's data, in data order (none for
        an empty or inline object). The size of an encrypted version's shard
        set is that of its sealed stream."""
        sealed = self.is_encrypted
        if self.segments:
            return [s.shard_set(sealed=sealed) for s in self.segments]
        if not self.placement:
            return []
        size = sealed_size_bytes(self.size_bytes, self.geometry) if sealed else self.size_bytes
        return [ShardSet(self.version_id, size, self.geometry, self.placement)]

    def node_for_shard(self, shard_index: int) -> str | None:
        for loc in self.placement:
            if loc.shard_index == shard_index:
                return loc.node_id
        return None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    zone: str
    address: str
    weight: float = 1.0
    capacity_bytes: int = 0
    used_bytes: int = 0
    state: str = NODE_UP
    last_heartbeat: float = 0.0
    store_id: str = ""  # made with the node's shard store: a new one means an empty disk


@dataclass(frozen=True, slots=True)
class ClusterMapView:
    epoch: int
    nodes: tuple[NodeInfo, ...]

    def node(self, node_id: str) -> NodeInfo | None:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        return None


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """What a listing shows of a version: no data location, inline bytes or user
    metadata — a listing page decodes and sends only these."""

    key: str
    version_id: str
    size_bytes: int
    etag: str
    last_modified: float
    system_metadata: dict[str, str] = field(default_factory=dict)
    s3_version_id: str = ""
    delete_marker: bool = False


# What a listing page holds: whole records, or what a listing shows of them.
Listed = TypeVar("Listed", ObjectVersion, VersionSummary)


@dataclass(frozen=True, slots=True)
class ListPage(Generic[Listed]):
    objects: tuple[Listed, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_start_after: str


@dataclass(frozen=True)
class MultipartUpload:
    """A multipart upload in progress: what CreateMultipartUpload fixed for the
    object that completing it will create."""

    bucket: str
    key: str
    upload_id: str
    initiated: float  # unix seconds
    owner: str
    content_type: str
    user_metadata: dict[str, str] = field(default_factory=dict)
    system_metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str = ""  # lower case S3 algorithm name, "" for none
    checksum_type: str = ""  # "COMPOSITE" or "FULL_OBJECT" with an algorithm, else ""
    tags: dict[str, str] = field(default_factory=dict)  # x-amz-tagging, for the version
    acl: str = ""  # canned ACL the completed object gets; "" is private
    # Object Lock the completed object gets (checked again when it completes)
    lock_mode: str = ""
    retain_until: float = 0.0
    legal_hold: bool = False

    @property
    def is_encrypted(self) -> bool:
        """Its parts hold sealed streams (docs/encryption.md)."""
        return WRAPPED_DATA_KEY in self.system_metadata


@dataclass(frozen=True)
class UploadsPage:
    """One page of ListMultipartUploads."""

    uploads: tuple[MultipartUpload, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool


@dataclass(frozen=True)
class PartsPage:
    """One page of ListParts, with the upload it belongs to."""

    upload: MultipartUpload
    parts: tuple[Segment, ...]
    is_truncated: bool


@dataclass(frozen=True)
class CompletedUpload:
    """What CompleteMultipartUpload did: the version it committed, the version
    that replaced (if any) and the uploaded parts it left out — both no longer
    referenced, so their shards can be reclaimed."""

    version: ObjectVersion
    replaced: ObjectVersion | None
    unreferenced: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class ObjectDeleted:
    """What DeleteObject did in a versioned bucket: the record it removed
    (its shards can go; None when there was none) and the delete marker it
    added, if any."""

    removed: ObjectVersion | None
    marker: ObjectVersion | None


@dataclass(frozen=True)
class VersionsPage(Generic[Listed]):
    """One page of ListObjectVersions: (version or delete marker, is latest)."""

    versions: tuple[tuple[Listed, bool], ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str
    next_version_id_marker: str


@dataclass(frozen=True)
class PartsReleased:
    """Parts no record references any more (an aborted upload, a replaced part)."""

    parts: tuple[Segment, ...] = ()


_SEGMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Segment))
_VERSION_FIELDS = tuple(f.name for f in dataclasses.fields(ObjectVersion))


def _placement_to_list(placement: tuple[ShardLocation, ...]) -> list[list[Any]]:
    return [[loc.shard_index, loc.node_id] for loc in placement]


def _placement_from_list(raw: list[list[Any]]) -> tuple[ShardLocation, ...]:
    return tuple(ShardLocation(int(i), str(n)) for i, n in raw)


def _fields_of(record: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The record's fields in declaration order, as dataclasses.asdict gives
    them for these flat records — without its recursive deep copy (most of the
    cost of storing a version: ~50 µs with 4 KiB inline). Dict fields are
    copied (one level: their values are strings); the caller converts the
    fields that hold records (placement, segments)."""
    d = {name: getattr(record, name) for name in names}
    for name, value in d.items():
        if type(value) is dict:
            d[name] = dict(value)
    return d


def segment_to_dict(s: Segment) -> dict[str, Any]:
    d = _fields_of(s, _SEGMENT_FIELDS)
    d["placement"] = _placement_to_list(s.placement)
    return d


def segment_from_dict(d: dict[str, Any]) -> Segment:
    d = dict(d)
    d["placement"] = _placement_from_list(d["placement"])
    d["checksums"] = dict(d.get("checksums", {}))
    return Segment(**d)


def segment_to_json(s: Segment) -> bytes:
    return json.dumps(segment_to_dict(s), separators=(",", ":")).encode()


def segment_from_json(raw: bytes) -> Segment:
    return segment_from_dict(json.loads(raw))


def version_to_dict(v: ObjectVersion) -> dict[str, Any]:
    d = _fields_of(v, _VERSION_FIELDS)
    d["placement"] = _placement_to_list(v.placement)
    d["inline_data"] = v.inline_data.hex()
    if v.segments:
        d["segments"] = [segment_to_dict(s) for s in v.segments]
    else:
        del d["segments"]  # single-part records keep the shape they always had
    if not v.acl:
        del d["acl"]
    for name in ("lock_mode", "retain_until", "legal_hold"):
        if not d[name]:
            del d[name]  # unlocked records keep the shape they always had
    return d


def version_from_dict(d: dict[str, Any]) -> ObjectVersion:
    d = dict(d)
    d["placement"] = _placement_from_list(d["placement"])
    d["inline_data"] = bytes.fromhex(d.get("inline_data", ""))
    d["segments"] = tuple(segment_from_dict(s) for s in d.get("segments", ()))
    return ObjectVersion(**d)


def version_holds_shard_sets(d: dict[str, Any]) -> bool:
    """Whether a stored version record (as decoded JSON) keeps its data in
    shard sets: not inline, not empty (a delete marker is empty). The test of
    tessera.repair_plan.shard_sets_of, made before building the record."""
    return bool(d["size_bytes"]) and not d.get("inline_data")


def version_to_json(v: ObjectVersion) -> bytes:
    return json.dumps(version_to_dict(v), separators=(",", ":")).encode()


def version_from_json(raw: bytes) -> ObjectVersion:
    return version_from_dict(fastjson.loads(raw))


def version_summary_from_json(raw: bytes) -> VersionSummary:
    """A stored version record as a listing shows it, without building the
    whole record (its placement, segments, inline bytes) — a listing page
    decodes a thousand of these."""
    f = listed(raw)  # only these fields decoded (tessera.listed_json)
    return VersionSummary(
        key=f.key,
        version_id=f.version_id,
        size_bytes=f.size_bytes,
        etag=f.etag,
        last_modified=f.last_modified,
        system_metadata=f.system_metadata,
        s3_version_id=f.s3_version_id,
        delete_marker=f.delete_marker,
    )


def upload_to_json(u: MultipartUpload) -> bytes:
    return json.dumps(dataclasses.asdict(u), separators=(",", ":")).encode()


def upload_from_json(raw: bytes) -> MultipartUpload:
    return MultipartUpload(**json.loads(raw))


def access_key_to_json(k: AccessKeyInfo) -> bytes:
    d: dict[str, Any] = dataclasses.asdict(k)
    d["sealed_secret"] = k.sealed_secret.hex()
    return json.dumps(d, separators=(",", ":")).encode()


def access_key_from_json(raw: bytes) -> AccessKeyInfo:
    d = json.loads(raw)
    d["sealed_secret"] = bytes.fromhex(d["sealed_secret"])
    return AccessKeyInfo(**d)


def kms_key_to_json(k: KmsKeyInfo) -> bytes:
    d: dict[str, Any] = dataclasses.asdict(k)
    d["wrapped_key"] = k.wrapped_key.hex()
    return json.dumps(d, separators=(",", ":")).encode()


def kms_key_from_json(raw: bytes) -> KmsKeyInfo:
    d = json.loads(raw)
    d["wrapped_key"] = bytes.fromhex(d["wrapped_key"])
    return KmsKeyInfo(**d)


def user_from_json(raw: bytes) -> UserInfo:
    return UserInfo(**json.loads(raw))


def record_to_json(record: BucketInfo | NodeInfo | UserInfo) -> bytes:
    return json.dumps(dataclasses.asdict(record), separators=(",", ":")).encode()


# A replica decodes its bucket's record for every write it applies (the
# checks, the owner of the usage counters), most often the same few records:
# equal bytes give an equal frozen record, so the last ones decoded are kept,
# unless large (a long policy or lifecycle): at most about 8 MiB of them
# (docs/metadata.md, "Decoded bucket records").
BUCKET_RECORDS_CACHED = 256
BUCKET_RECORD_CACHED_BYTES_MAX = 16 * 1024


def bucket_from_json(raw: bytes) -> BucketInfo:
    if len(raw) <= BUCKET_RECORD_CACHED_BYTES_MAX:
        return _bucket_cached(raw)
    return _bucket_decoded(raw)


def _bucket_decoded(raw: bytes) -> BucketInfo:
    return BucketInfo(**json.loads(raw))


_bucket_cached = functools.lru_cache(maxsize=BUCKET_RECORDS_CACHED)(_bucket_decoded)


# Every write checks the fingerprint of its bucket, in the gateway and in
# each replica's apply: records are frozen and hashable, so equal records
# share one computed digest (asdict, JSON and SHA-256 cost 30-80 us).
BUCKET_FINGERPRINTS_CACHED = 256


@functools.lru_cache(maxsize=BUCKET_FINGERPRINTS_CACHED)
def bucket_fingerprint(bucket: BucketInfo) -> str:
    """A digest of every field of a bucket record: equal for two reads of an
    unchanged record, whether it came from the store or over the wire (an
    empty ACL travels as "private"), different after any change to it."""
    fields = dataclasses.asdict(bucket)
    fields["acl"] = bucket.acl or "private"
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def node_from_json(raw: bytes) -> NodeInfo:
    return NodeInfo(**json.loads(raw))
