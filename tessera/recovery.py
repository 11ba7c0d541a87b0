"""Rebuilding the object index from shard files (docs/metadata-recovery.md).

Pure: the shard trailer's JSON codec, and the plan `tessera admin
rebuild-metadata` follows — which buckets to recreate and which version
records to commit, from the headers and trailers the nodes list.

A trailer is the version record as the gateway knew it when the body ended
(ETag, content type, user and system metadata — the wrapped data key of an
encrypted object included —, tags, ACL, lock, Last-Modified), plus what the
gateway knew of the bucket (owner, versioning status, Object Lock). Every
shard of a version carries the same trailer; the header names the bucket,
key, version id and geometry.

Invariants of plan():
- a version is committed only when at least k distinct shard indexes of it
  were listed with consistent headers, and one of them has a readable
  trailer that agrees with its header (bucket, key, stored size);
- in a bucket whose versioning was never set, only the newest version of a
  key is committed (the older ones were overwritten); in a versioned bucket
  every version is, oldest first (version ids are time-ordered,
  tessera/ids.py), so the newest ends up current;
- every listed version appears exactly once: rebuilt or skipped with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from tessera.geometry import Geometry
from tessera.model import VERSIONING_STATUSES, ObjectVersion, ShardLocation
from tessera.sse import sealed_size_bytes

TRAILER_FORMAT = 1
KIND_VERSION = "version"  # the shards of a single-part version

SKIP_TOO_FEW_SHARDS = "too few shards"
SKIP_NO_TRAILER = "no readable trailer"
SKIP_INCONSISTENT = "inconsistent headers"
SKIP_SUPERSEDED = "superseded (unversioned bucket)"
SKIP_NOT_A_VERSION = "not a single-part version (multipart part)"


class TrailerError(ValueError):
    """Trailer bytes that do not describe a version."""


@dataclass(frozen=True)
class BucketHints:
    """What the gateway knew of the bucket when it wrote the version."""

    owner: str
    versioning: str = ""  # "", Enabled or Suspended
    object_lock: bool = False


def encode_trailer(version: ObjectVersion, bucket: BucketHints) -> bytes:
    """The trailer of the shards of a single-part version (placement, map
    epoch, request id and the S3 version id are decided later and left out)."""
    fields: dict[str, Any] = {
        "f": TRAILER_FORMAT,
        "kind": KIND_VERSION,
        "bucket_owner": bucket.owner,
        "bucket_versioning": bucket.versioning,
        "bucket_object_lock": bucket.object_lock,
        "size_bytes": version.size_bytes,
        "etag": version.etag,
        "content_type": version.content_type,
        "last_modified": version.last_modified,
        "user_metadata": version.user_metadata,
        "system_metadata": version.system_metadata,
        "tags": version.tags,
        "acl": version.acl,
        "lock_mode": version.lock_mode,
        "retain_until": version.retain_until,
        "legal_hold": version.legal_hold,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Trailer:
    """A decoded trailer: the record's fields and the bucket hints."""

    bucket: BucketHints
    size_bytes: int
    etag: str
    content_type: str
    last_modified: float
    user_metadata: dict[str, str]
    system_metadata: dict[str, str]
    tags: dict[str, str]
    acl: str
    lock_mode: str
    retain_until: float
    legal_hold: bool


def _str_map(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TrailerError(f"{name} is not a map of strings")
    return dict(value)


def decode_trailer(raw: bytes) -> Trailer:
    """Parses a version trailer; raises TrailerError for anything else."""
    try:
        fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrailerError(f"not JSON: {exc}") from exc
    if not isinstance(fields, dict) or fields.get("f") != TRAILER_FORMAT:
        raise TrailerError("unknown trailer format")
    if fields.get("kind") != KIND_VERSION:
        raise TrailerError(f"trailer of kind {fields.get('kind')!r}")
    try:
        versioning = str(fields["bucket_versioning"])
        if versioning and versioning not in VERSIONING_STATUSES:
            raise TrailerError(f"versioning status {versioning!r}")
        size = int(fields["size_bytes"])
        if size < 0:
            raise TrailerError(f"size {size}")
        return Trailer(
            bucket=BucketHints(
                owner=str(fields["bucket_owner"]),
                versioning=versioning,
                object_lock=bool(fields["bucket_object_lock"]),
            ),
            size_bytes=size,
            etag=str(fields["etag"]),
            content_type=str(fields["content_type"]),
            last_modified=float(fields["last_modified"]),
            user_metadata=_str_map(fields["user_metadata"], "user_metadata"),
            system_metadata=_str_map(fields["system_metadata"], "system_metadata"),
            tags=_str_map(fields["tags"], "tags"),
            acl=str(fields["acl"]),
            lock_mode=str(fields["lock_mode"]),
            retain_until=float(fields["retain_until"]),
            legal_hold=bool(fields["legal_hold"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TrailerError):
            raise
        raise TrailerError(f"bad field: {exc}") from exc


@dataclass(frozen=True)
class ListedShard:
    """One shard as a node listed it (ListShards with trailers)."""

    node_id: str
    bucket: str
    key: str
    version_id: str
    shard_index: int
    geometry: Geometry
    object_size_bytes: int  # stored bytes (sealed size for an encrypted body)
    trailer: bytes  # b"": none


@dataclass(frozen=True)
class Skipped:
    bucket: str
    key: str
    version_id: str
    reason: str


@dataclass(frozen=True)
class BucketPlan:
    name: str
    owner: str
    versioning: str  # the status to leave the bucket in
    object_lock: bool


@dataclass
class Plan:
    """What to recreate: buckets, then per key its versions oldest first."""

    buckets: list[BucketPlan] = field(default_factory=list)
    versions: list[ObjectVersion] = field(default_factory=list)  # by (bucket, key, version id)
    skipped: list[Skipped] = field(default_factory=list)


def to_version(
    shard: ListedShard, trailer: Trailer, placement: Iterable[ShardLocation]
) -> ObjectVersion:
    """The version record a trailer and its shards describe (not yet committed:
    no S3 version id, which the bucket's versioning decides at commit)."""
    return ObjectVersion(
        bucket=shard.bucket,
        key=shard.key,
        version_id=shard.version_id,
        size_bytes=trailer.size_bytes,
        etag=trailer.etag,
        content_type=trailer.content_type,
        last_modified=trailer.last_modified,
        data_shards=shard.geometry.data_shards,
        parity_shards=shard.geometry.parity_shards,
        chunk_size_bytes=shard.geometry.chunk_size_bytes,
        placement=tuple(sorted(placement, key=lambda loc: loc.shard_index)),
        user_metadata=trailer.user_metadata,
        system_metadata=trailer.system_metadata,
        tags=trailer.tags,
        acl=trailer.acl,
        lock_mode=trailer.lock_mode,
        retain_until=trailer.retain_until,
        legal_hold=trailer.legal_hold,
    )


def _stored_size(trailer: Trailer, geometry: Geometry) -> int:
    version = ObjectVersion(
        bucket="-",
        key="-",
        version_id="-",
        size_bytes=trailer.size_bytes,
        etag="",
        content_type="",
        last_modified=0.0,
        data_shards=geometry.data_shards,
        parity_shards=geometry.parity_shards,
        chunk_size_bytes=geometry.chunk_size_bytes,
        placement=(),
        system_metadata=trailer.system_metadata,
    )
    if version.is_encrypted and trailer.size_bytes > 0:
        return sealed_size_bytes(trailer.size_bytes, geometry)
    return trailer.size_bytes


def _version_of(
    shards: list[ListedShard],
) -> tuple[ObjectVersion, BucketHints] | str:
    """The version one id's shards describe, or why it cannot be rebuilt."""
    first = shards[0]
    same = (first.bucket, first.key, first.geometry, first.object_size_bytes)
    if any((s.bucket, s.key, s.geometry, s.object_size_bytes) != same for s in shards):
        return SKIP_INCONSISTENT
    placement: dict[int, ShardLocation] = {}
    for s in sorted(shards, key=lambda s: (s.shard_index, s.node_id)):
        placement.setdefault(s.shard_index, ShardLocation(s.shard_index, s.node_id))
    if len(placement) < first.geometry.data_shards:
        return SKIP_TOO_FEW_SHARDS
    trailer: Trailer | None = None
    not_a_version = False
    for s in shards:
        if not s.trailer:
            continue
        try:
            candidate = decode_trailer(s.trailer)
        except TrailerError as exc:
            not_a_version = not_a_version or "kind" in str(exc)
            continue
        if _stored_size(candidate, first.geometry) == first.object_size_bytes:
            trailer = candidate
            break
    if trailer is None:
        return SKIP_NOT_A_VERSION if not_a_version else SKIP_NO_TRAILER
    return to_version(first, trailer, placement.values()), trailer.bucket


def plan(shards: Iterable[ListedShard]) -> Plan:
    """Groups listed shards by version and decides what to recreate."""
    by_version: dict[str, list[ListedShard]] = {}
    for s in shards:
        by_version.setdefault(s.version_id, []).append(s)
    result = Plan()
    found: list[tuple[ObjectVersion, BucketHints]] = []
    for version_id in sorted(by_version):
        group = by_version[version_id]
        outcome = _version_of(group)
        if isinstance(outcome, str):
            result.skipped.append(Skipped(group[0].bucket, group[0].key, version_id, outcome))
        else:
            found.append(outcome)
    # The newest version of a bucket speaks for the bucket's owner and status.
    newest_hints: dict[str, tuple[str, BucketHints]] = {}
    for version, hints in found:
        seen = newest_hints.get(version.bucket)
        if seen is None or version.version_id > seen[0]:
            newest_hints[version.bucket] = (version.version_id, hints)
    for name in sorted(newest_hints):
        hints = newest_hints[name][1]
        lock = any(h.object_lock for v, h in found if v.bucket == name)
        result.buckets.append(BucketPlan(name, hints.owner, hints.versioning, lock))
    versioned = {b.name for b in result.buckets if b.versioning or b.object_lock}
    newest_of_key: dict[tuple[str, str], str] = {}
    for version, _ in found:
        k = (version.bucket, version.key)
        newest_of_key[k] = max(newest_of_key.get(k, ""), version.version_id)
    for version, _ in sorted(found, key=lambda f: (f[0].bucket, f[0].key, f[0].version_id)):
        k = (version.bucket, version.key)
        if version.bucket not in versioned and version.version_id != newest_of_key[k]:
            result.skipped.append(
                Skipped(version.bucket, version.key, version.version_id, SKIP_SUPERSEDED)
            )
            continue
        result.versions.append(version)
    return result


def without_expired_lock(version: ObjectVersion, now: float) -> ObjectVersion:
    """A retention that has already ended is dropped: a commit only accepts
    a retention date in the future, and an ended one protects nothing."""
    if version.lock_mode and version.retain_until <= now:
        return replace(version, lock_mode="", retain_until=0.0)
    return version
