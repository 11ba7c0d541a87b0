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

A multipart version's record lives in its completion manifest: shards of
no data (stored under the version id, header size 0) whose trailer lists the
segments; each part's own shards carry a part trailer (upload id, part
number) and are used only through a manifest.

Invariants of plan():
- a single-part version is committed only when at least k distinct shard
  indexes of it were listed with consistent headers, and one of them has a
  readable trailer that agrees with its header (bucket, key, stored size);
  a multipart version only when one manifest shard is readable and every
  segment it names has k such shards of the size the manifest gives;
- in a bucket whose versioning was never set, only the newest version of a
  key is committed (the older ones were overwritten); in a versioned bucket
  every version is, oldest first (version ids are time-ordered,
  tessera/ids.py), so the newest ends up current;
- every listed shard set appears exactly once: rebuilt, used as a segment,
  or skipped with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from tessera.geometry import Geometry
from tessera.model import VERSIONING_STATUSES, ObjectVersion, Segment, ShardLocation
from tessera.sse import sealed_size_bytes
from tessera.sse_keys import WRAPPED_DATA_KEY

TRAILER_FORMAT = 1
KIND_VERSION = "version"  # the shards of a single-part version
KIND_MULTIPART = "multipart"  # a completion manifest: a multipart version's record
KIND_PART = "part"  # the shards of one part of a multipart upload

SKIP_TOO_FEW_SHARDS = "too few shards"
SKIP_NO_TRAILER = "no readable trailer"
SKIP_INCONSISTENT = "inconsistent headers"
SKIP_SUPERSEDED = "superseded (unversioned bucket)"
SKIP_PART = "part of an upload not completed (or whose completion manifest is lost)"
SKIP_PART_MISSING = "a part has too few shards"


class TrailerError(ValueError):
    """Trailer bytes that do not describe a version."""


@dataclass(frozen=True)
class BucketHints:
    """What the gateway knew of the bucket when it wrote the version."""

    owner: str
    versioning: str = ""  # "", Enabled or Suspended
    object_lock: bool = False


def encode_trailer(version: ObjectVersion, bucket: BucketHints) -> bytes:
    """The trailer of the shards of a single-part version, or of the
    completion manifest of a multipart one (with its segments). Placement,
    map epoch, request id and the S3 version id are decided at commit and
    left out."""
    fields: dict[str, Any] = {
        "f": TRAILER_FORMAT,
        "kind": KIND_MULTIPART if version.segments else KIND_VERSION,
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
    if version.segments:
        fields["segments"] = [
            {
                "shard_set_id": p.shard_set_id,
                "part_number": p.part_number,
                "size_bytes": p.size_bytes,
                "etag": p.etag,
                "data_shards": p.data_shards,
                "parity_shards": p.parity_shards,
                "chunk_size_bytes": p.chunk_size_bytes,
                "last_modified": p.last_modified,
                "checksums": p.checksums,
            }
            for p in version.segments
        ]
    return _dump(fields)


def encode_part_trailer(upload_id: str, part_number: int, etag: str) -> bytes:
    """The trailer of a part's shards: which upload it belongs to (the record
    that makes it an object's segment is the completion manifest)."""
    return _dump(
        {
            "f": TRAILER_FORMAT,
            "kind": KIND_PART,
            "upload_id": upload_id,
            "part_number": part_number,
            "etag": etag,
        }
    )


def _dump(fields: dict[str, Any]) -> bytes:
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
    segments: tuple[Segment, ...] = ()  # a completion manifest's parts (placement empty)

    @property
    def is_manifest(self) -> bool:
        return bool(self.segments)


def _segment(fields: object) -> Segment:
    if not isinstance(fields, dict):
        raise TrailerError("a segment is not an object")
    return Segment(
        shard_set_id=str(fields["shard_set_id"]),
        part_number=int(fields["part_number"]),
        size_bytes=int(fields["size_bytes"]),
        etag=str(fields["etag"]),
        data_shards=int(fields["data_shards"]),
        parity_shards=int(fields["parity_shards"]),
        chunk_size_bytes=int(fields["chunk_size_bytes"]),
        placement=(),
        last_modified=float(fields["last_modified"]),
        checksums=_str_map(fields["checksums"], "checksums"),
    )


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
    kind = fields.get("kind")
    if kind not in (KIND_VERSION, KIND_MULTIPART):
        raise TrailerError(f"trailer of kind {kind!r}")
    try:
        versioning = str(fields["bucket_versioning"])
        if versioning and versioning not in VERSIONING_STATUSES:
            raise TrailerError(f"versioning status {versioning!r}")
        if kind == KIND_MULTIPART and not fields.get("segments"):
            raise TrailerError("a manifest without segments")
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
            segments=tuple(_segment(p) for p in fields.get("segments", []))
            if kind == KIND_MULTIPART
            else (),
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


def _to_version(
    shard: ListedShard,
    trailer: Trailer,
    placement: Iterable[ShardLocation],
    segments: tuple[Segment, ...] = (),
) -> ObjectVersion:
    """The version record a trailer and its shards describe (not yet committed:
    no S3 version id, which the bucket's versioning decides at commit). A
    multipart version takes its geometry from its first segment, as a
    completion does."""
    geometry = segments[0].geometry if segments else shard.geometry
    return ObjectVersion(
        bucket=shard.bucket,
        key=shard.key,
        version_id=shard.version_id,
        size_bytes=trailer.size_bytes,
        etag=trailer.etag,
        content_type=trailer.content_type,
        last_modified=trailer.last_modified,
        data_shards=geometry.data_shards,
        parity_shards=geometry.parity_shards,
        chunk_size_bytes=geometry.chunk_size_bytes,
        placement=tuple(sorted(placement, key=lambda loc: loc.shard_index)),
        user_metadata=trailer.user_metadata,
        system_metadata=trailer.system_metadata,
        segments=segments,
        tags=trailer.tags,
        acl=trailer.acl,
        lock_mode=trailer.lock_mode,
        retain_until=trailer.retain_until,
        legal_hold=trailer.legal_hold,
    )


def _stored_size(size_bytes: int, geometry: Geometry, encrypted: bool) -> int:
    """The bytes the shards of a run of size_bytes hold (sealed when encrypted)."""
    return sealed_size_bytes(size_bytes, geometry) if encrypted and size_bytes > 0 else size_bytes


def _is_encrypted(trailer: Trailer) -> bool:
    return WRAPPED_DATA_KEY in trailer.system_metadata


@dataclass(frozen=True)
class _Group:
    """The shards listed under one shard set id, checked for consistency."""

    first: ListedShard
    placement: dict[int, ShardLocation]  # one location per distinct shard index
    trailers: tuple[bytes, ...]

    @property
    def readable(self) -> bool:
        return len(self.placement) >= self.first.geometry.data_shards


def _group(shards: list[ListedShard]) -> _Group | None:
    """None when the headers disagree (bucket, key, geometry or size)."""
    first = shards[0]
    same = (first.bucket, first.key, first.geometry, first.object_size_bytes)
    if any((s.bucket, s.key, s.geometry, s.object_size_bytes) != same for s in shards):
        return None
    placement: dict[int, ShardLocation] = {}
    for s in sorted(shards, key=lambda s: (s.shard_index, s.node_id)):
        placement.setdefault(s.shard_index, ShardLocation(s.shard_index, s.node_id))
    return _Group(first, placement, tuple(s.trailer for s in shards if s.trailer))


def _trailer_of(group: _Group) -> Trailer | str:
    """The first trailer of the group that agrees with its header, or why none does."""
    is_part = False
    for raw in group.trailers:
        try:
            trailer = decode_trailer(raw)
        except TrailerError as exc:
            is_part = is_part or repr(KIND_PART) in str(exc)
            continue
        header_size = group.first.object_size_bytes
        if trailer.is_manifest:
            if header_size == 0:
                return trailer
        elif header_size == _stored_size(
            trailer.size_bytes, group.first.geometry, _is_encrypted(trailer)
        ):
            return trailer
    return SKIP_PART if is_part else SKIP_NO_TRAILER


def _segments_of(trailer: Trailer, groups: dict[str, _Group | None]) -> tuple[Segment, ...] | None:
    """A manifest's segments with the placement their listed shards give,
    or None when a part cannot be read (fewer than k shards, or headers
    that disagree with the manifest)."""
    segments = []
    for seg in trailer.segments:
        group = groups.get(seg.shard_set_id)
        if group is None or not group.readable:
            return None
        stored = _stored_size(seg.size_bytes, seg.geometry, _is_encrypted(trailer))
        if (group.first.geometry, group.first.object_size_bytes) != (seg.geometry, stored):
            return None
        placement = tuple(sorted(group.placement.values(), key=lambda loc: loc.shard_index))
        segments.append(replace(seg, placement=placement))
    return tuple(segments)


def plan(shards: Iterable[ListedShard]) -> Plan:
    """Groups listed shards by shard set and decides what to recreate."""
    by_set: dict[str, list[ListedShard]] = {}
    for s in shards:
        by_set.setdefault(s.version_id, []).append(s)
    groups = {set_id: _group(listed) for set_id, listed in by_set.items()}
    result = Plan()
    found: list[tuple[ObjectVersion, BucketHints]] = []
    outcomes: dict[str, Trailer | str] = {}
    for set_id, group in sorted(groups.items()):
        if group is None:
            outcomes[set_id] = SKIP_INCONSISTENT
        else:
            outcomes[set_id] = _trailer_of(group)
    # Completion manifests first: the parts they name are theirs, not skipped.
    used: set[str] = set()
    for set_id, outcome in sorted(outcomes.items()):
        group = groups[set_id]
        if isinstance(outcome, str) or not outcome.is_manifest or group is None:
            continue
        segments = _segments_of(outcome, groups)
        if segments is None:
            outcomes[set_id] = SKIP_PART_MISSING
            continue
        used.update(seg.shard_set_id for seg in segments)
        found.append((_to_version(group.first, outcome, (), segments), outcome.bucket))
    for set_id, outcome in sorted(outcomes.items()):
        first = by_set[set_id][0]
        if set_id in used:
            continue
        if isinstance(outcome, str):
            result.skipped.append(Skipped(first.bucket, first.key, set_id, outcome))
            continue
        group = groups[set_id]
        assert group is not None
        if outcome.is_manifest:
            continue
        if not group.readable:
            result.skipped.append(Skipped(first.bucket, first.key, set_id, SKIP_TOO_FEW_SHARDS))
            continue
        version = _to_version(group.first, outcome, group.placement.values())
        found.append((version, outcome.bucket))
    _decide(found, result)
    return result


def _decide(found: list[tuple[ObjectVersion, BucketHints]], result: Plan) -> None:
    """Buckets from the newest version of each, then which versions to commit."""
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


def without_expired_lock(version: ObjectVersion, now: float) -> ObjectVersion:
    """A retention that has already ended is dropped: a commit only accepts
    a retention date in the future, and an ended one protects nothing."""
    if version.lock_mode and version.retain_until <= now:
        return replace(version, lock_mode="", retain_until=0.0)
    return version
