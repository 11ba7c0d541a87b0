"""Usage counters and quotas in the metadata state (docs/usage-and-quotas.md).

Storage counters are materialized by the state machine itself: every applied
mutation that creates, replaces or removes a version, a delete marker, an
upload or a part adds its StorageUsage delta to its bucket's, the bucket
owner's and the cluster's counters in the same WriteBatch, and a quota that
the delta would break refuses the mutation (QuotaExceeded) before anything is
written. Request counters arrive from gateways as RecordRequestUsage batches
and are added to one record per (hour, bucket).

Invariants:
- the counters of a bucket equal the sum of tessera.usage.of_version over its
  stored version records plus of_part over its uploads' parts (objects: its
  current versions); they change only in the batch that changes those records,
  so a replayed entry or a retried request (same request id: not applied
  again) never counts twice, and every replica holds the same numbers;
- an owner's counters are the sum of its buckets' (ownership never changes);
- a refused mutation writes nothing (state.py rolls the overlay back; the
  counters, summed in memory per batch and written by finish_batch in the same
  WriteBatch, are only changed once every check of a mutation has passed);
- request records older than the retention are pruned, at most
  HOURLY_PRUNE_PER_MUTATION_MAX per applied RecordRequestUsage, reading the
  overlay (so the work does not depend on how entries are batched).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from metadata import keys
from metadata.listing import Cursor
from metadata.mutations import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateMultipartUpload,
    DeleteObject,
    Mutation,
    PutObject,
    PutPart,
    RecordRequestUsage,
    RecountUsage,
    SetQuota,
)
from metadata.outcome import Result
from metadata.overlay import Overlay
from tessera import errors, limits
from tessera.model import (
    CompletedUpload,
    ObjectDeleted,
    ObjectVersion,
    PartsReleased,
    Segment,
    bucket_from_json,
    segment_from_json,
    version_from_json,
)
from tessera.usage import (
    ZERO,
    Quota,
    RequestCounters,
    StorageUsage,
    of_part,
    of_parts,
    of_version,
    quota_violation,
)

HOURLY_PRUNE_PER_MUTATION_MAX = 64
HOUR_MAX = (1 << 63) - 1  # hours are 8-byte keys; far past any real clock
QUOTA_SCOPES = ("bucket", "owner")


@dataclass(frozen=True)
class Before:
    """What a mutation's delta needs from the state before its effect."""

    current_present: bool = False
    upload_present: bool = False
    old_part: Segment | None = None


def before(overlay: Overlay, mutation: Mutation) -> Before:
    match mutation:
        case PutObject():
            v = mutation.version
            return Before(current_present=_present(overlay, v.bucket, v.key))
        case DeleteObject():
            return Before(current_present=_present(overlay, mutation.bucket, mutation.key))
        case CompleteMultipartUpload():
            m = mutation
            upload = overlay.get(keys.upload_key(m.bucket, m.key, m.upload_id))
            return Before(
                current_present=_present(overlay, m.bucket, m.key),
                upload_present=upload is not None,
            )
        case PutPart():
            number = mutation.part.part_number
            if not limits.PART_NUMBER_MIN <= number <= limits.PART_NUMBER_MAX:
                return Before()  # refused by the effect; no key can be built for it
            raw = overlay.get(keys.part_key(mutation.upload_id, number))
            return Before(old_part=segment_from_json(raw) if raw is not None else None)
    return Before()


def account(overlay: Overlay, mutation: Mutation, result: Result, was: Before) -> None:
    """Adds the storage delta of an applied effect to its counters; raises
    QuotaExceeded (the caller rolls the effect back) when a quota forbids it."""
    bucket = ""
    delta = ZERO
    match mutation:
        case PutObject():
            bucket = mutation.version.bucket
            removed = result if isinstance(result, ObjectVersion) else None
            delta = of_version(mutation.version) - of_version(removed)
            delta = delta + _objects_delta(overlay, bucket, mutation.version.key, was)
        case DeleteObject():
            bucket = mutation.bucket
            if isinstance(result, ObjectVersion):
                delta = -of_version(result)
            elif isinstance(result, ObjectDeleted):
                delta = of_version(result.marker) - of_version(result.removed)
            delta = delta + _objects_delta(overlay, bucket, mutation.key, was)
        case CompleteMultipartUpload():
            if not was.upload_present or not isinstance(result, CompletedUpload):
                return  # an earlier completion answered again: nothing changed
            bucket = mutation.bucket
            stored_parts = of_parts(result.version.segments) + of_parts(list(result.unreferenced))
            delta = (
                of_version(result.version)
                - of_version(result.replaced)
                - stored_parts
                - StorageUsage(multipart_uploads=1)
            )
            delta = delta + _objects_delta(overlay, bucket, mutation.key, was)
        case PutPart():
            bucket = mutation.bucket
            delta = of_part(mutation.part) - of_part(was.old_part)
        case CreateMultipartUpload():
            bucket = mutation.upload.bucket
            delta = StorageUsage(multipart_uploads=1)
        case AbortMultipartUpload():
            if isinstance(result, PartsReleased):
                bucket = mutation.bucket
                delta = -of_parts(list(result.parts)) - StorageUsage(multipart_uploads=1)
    if bucket and not delta.is_zero():
        add(overlay, bucket, delta)


def add(overlay: Overlay, bucket: str, delta: StorageUsage) -> None:
    """Adds delta to the bucket's, its owner's and the cluster's counters,
    unless a quota of the bucket or the owner forbids it (QuotaExceeded)."""
    owner = _owner(overlay, bucket)
    bucket_after = _usage(overlay, keys.usage_bucket_key(bucket)) + delta
    owner_after = _usage(overlay, keys.usage_owner_key(owner)) + delta
    for scope, name, after in (("bucket", bucket, bucket_after), ("owner", owner, owner_after)):
        quota = _quota(overlay, scope, name)
        if quota is not None:
            why = quota_violation(quota, after, delta)
            if why:
                raise errors.QuotaExceeded(f"The {scope} {name} is over its quota: {why}.")
    _put_usage(overlay, keys.usage_bucket_key(bucket), bucket_after)
    _put_usage(overlay, keys.usage_owner_key(owner), owner_after)
    total = _usage(overlay, keys.USAGE_TOTAL) + delta
    _put_usage(overlay, keys.USAGE_TOTAL, total)


def forget_bucket(overlay: Overlay, bucket: str, owner: str) -> None:
    """A deleted bucket: its counters (zero: it was empty) and quota go."""
    left = _usage(overlay, keys.usage_bucket_key(bucket))
    if not left.is_zero():
        owner_key = keys.usage_owner_key(owner)
        _put_usage(overlay, owner_key, _usage(overlay, owner_key) - left)
        _put_usage(overlay, keys.USAGE_TOTAL, _usage(overlay, keys.USAGE_TOTAL) - left)
    _put_usage(overlay, keys.usage_bucket_key(bucket), None)
    overlay.delete(keys.quota_key("bucket", bucket))
    _memo(overlay, "quota").pop(keys.quota_key("bucket", bucket), None)
    _memo(overlay, "owner").pop(bucket, None)


def recount(overlay: Overlay, m: RecountUsage) -> StorageUsage:
    """Sets a bucket's counters to a count of its records (no quota check: it
    changes no data); returns the new counters. Proportional to the bucket's
    size, in one apply — like the first PutBucketVersioning."""
    raw_bucket = overlay.get(keys.bucket_key(m.bucket))
    if raw_bucket is None:
        raise errors.NoSuchBucket()
    owner = bucket_from_json(raw_bucket).owner
    stored: dict[tuple[str, str], ObjectVersion] = {}
    objects = 0
    for _, raw in overlay.scan(keys.object_namespace(m.bucket)):
        current = version_from_json(raw)
        stored[(current.key, current.version_id)] = current
        objects += 1
    for _, raw in overlay.scan(keys.version_namespace(m.bucket)):
        v = version_from_json(raw)
        stored[(v.key, v.version_id)] = v
    counted = StorageUsage(objects=objects)
    for v in stored.values():
        counted = counted + of_version(v)
    namespace = keys.upload_namespace(m.bucket)
    for upload_key, _ in overlay.scan(namespace):
        _, upload_id = keys.split_upload_key(namespace, upload_key)
        parts = [segment_from_json(raw) for _, raw in overlay.scan(keys.parts_prefix(upload_id))]
        counted = counted + StorageUsage(multipart_uploads=1) + of_parts(parts)
    difference = counted - _usage(overlay, keys.usage_bucket_key(m.bucket))
    if not difference.is_zero():
        owner_key = keys.usage_owner_key(owner)
        _put_usage(overlay, owner_key, _usage(overlay, owner_key) + difference)
        total = _usage(overlay, keys.USAGE_TOTAL) + difference
        _put_usage(overlay, keys.USAGE_TOTAL, total)
    _put_usage(overlay, keys.usage_bucket_key(m.bucket), counted)
    return counted


# ---------------------------------------------------------------- quotas


def set_quota(overlay: Overlay, m: SetQuota) -> None:
    """Sets (or, with both limits None, clears) a quota; effective from the next entry."""
    if m.scope not in QUOTA_SCOPES:
        raise errors.InvalidArgument(f"a quota is set on a bucket or an owner, not {m.scope!r}")
    if not m.name:
        raise errors.InvalidArgument("a quota needs a bucket or user name")
    for limit in (m.max_bytes, m.max_objects):
        if limit is not None and limit < 0:
            raise errors.InvalidArgument("quota limits must not be negative")
    if m.scope == "bucket" and overlay.get(keys.bucket_key(m.name)) is None:
        raise errors.NoSuchBucket()
    quota = Quota(m.max_bytes, m.max_objects)
    key = keys.quota_key(m.scope, m.name)
    _memo(overlay, "quota").pop(key, None)
    if quota.is_unlimited:
        overlay.delete(key)
    else:
        overlay.put(key, json.dumps(quota.to_dict(), sort_keys=True).encode())


def read_quota(get: Any, scope: str, name: str) -> Quota | None:
    raw = get(keys.quota_key(scope, name))
    return Quota.from_dict(json.loads(raw)) if raw is not None else None


# ---------------------------------------------------------------- requests


def record_requests(overlay: Overlay, m: RecordRequestUsage) -> None:
    """Adds one gateway flush of request counters; prunes expired hours."""
    if m.retention_hours <= 0:
        raise errors.InvalidArgument("the usage retention must be at least one hour")
    parsed = []
    for hour, bucket, body in m.records:
        counters = RequestCounters.from_dict(body)
        if not 0 <= hour <= HOUR_MAX or not counters.is_valid():
            raise errors.InvalidArgument("request counters must not be negative")
        parsed.append((int(hour), str(bucket), counters))
    newest = -1
    for hour, bucket, counters in parsed:
        newest = max(newest, hour)
        owner = ""
        raw_bucket = overlay.get(keys.bucket_key(bucket)) if bucket else None
        if raw_bucket is None:
            bucket = ""  # requests naming no existing bucket: one bounded record
        else:
            owner = bucket_from_json(raw_bucket).owner
        key = keys.hourly_key(hour, bucket)
        raw = overlay.get(key)
        if raw is not None:
            stored = json.loads(raw)
            owner = stored.get("owner", owner)
            counters = counters + RequestCounters.from_dict(stored)
        overlay.put(key, _json({**counters.to_dict(), "owner": owner}))
    if newest >= 0:
        _prune_hours(overlay, newest - m.retention_hours)


def _prune_hours(overlay: Overlay, oldest_kept_hour: int) -> None:
    if oldest_kept_hour <= 0:
        return
    expired = overlay.live_keys(
        keys.USAGE_HOURLY, keys.hourly_prefix(oldest_kept_hour), HOURLY_PRUNE_PER_MUTATION_MAX
    )
    for key in expired:
        overlay.delete(key)


# ---------------------------------------------------------------- reads


class _Db(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def iter(self) -> Cursor: ...


def report(db: _Db, bucket: str, owner: str, from_hour: int, to_hour: int) -> dict[str, Any]:
    """The usage report the admin API and `tessera admin usage --json` give:
    storage now (per bucket, the owner's, in total), request counters of the
    hours from_hour..to_hour inclusive, and the quotas that apply."""
    to_hour = min(to_hour, HOUR_MAX)
    rows = []
    for key, raw in _scan(db, keys.BUCKET):
        name = key[len(keys.BUCKET) :].decode()
        info = bucket_from_json(raw)
        if (bucket and name != bucket) or (owner and info.owner != owner):
            continue
        rows.append((name, info.owner))
    hours: list[dict[str, Any]] = []
    requests_total = RequestCounters()
    per_bucket: dict[str, RequestCounters] = {}
    for key, raw in _scan_range(db, keys.hourly_prefix(from_hour), keys.hourly_prefix(to_hour + 1)):
        hour, name = keys.split_hourly_key(key)
        fields = json.loads(raw)
        if (bucket and name != bucket) or (owner and fields.get("owner", "") != owner):
            continue
        counters = RequestCounters.from_dict(fields)
        hours.append({"hour": hour, "bucket": name, **counters.to_dict()})
        requests_total = requests_total + counters
        per_bucket[name] = per_bucket.get(name, RequestCounters()) + counters
    if bucket and not rows and not hours:  # a deleted bucket's requests stay reportable
        raise errors.NoSuchBucket()
    buckets = []
    total = ZERO
    for name, bucket_owner in rows:
        stored = _stored_usage(db, keys.usage_bucket_key(name))
        total = total + stored
        quota = read_quota(db.get, "bucket", name)
        buckets.append(
            {
                "bucket": name,
                "owner": bucket_owner,
                **stored.to_dict(),
                "requests": per_bucket.get(name, RequestCounters()).to_dict(),
                "quota": quota.to_dict() if quota is not None else None,
            }
        )
    body: dict[str, Any] = {
        "from_hour": from_hour,
        "to_hour": to_hour,
        "buckets": buckets,
        "hours": hours,
        "requests_total": requests_total.to_dict(),
    }
    if owner:
        quota = read_quota(db.get, "owner", owner)
        body["owner"] = {
            "owner": owner,
            **_stored_usage(db, keys.usage_owner_key(owner)).to_dict(),
            "quota": quota.to_dict() if quota is not None else None,
        }
    cluster = _stored_usage(db, keys.USAGE_TOTAL)
    body["total"] = (cluster if not bucket and not owner else total).to_dict()
    return body


def cluster_total(db: _Db) -> StorageUsage:
    return _stored_usage(db, keys.USAGE_TOTAL)


# ---------------------------------------------------------------- helpers


def _present(overlay: Overlay, bucket: str, key: str) -> bool:
    return overlay.get(keys.object_key(bucket, key)) is not None


def _objects_delta(overlay: Overlay, bucket: str, key: str, was: Before) -> StorageUsage:
    now = _present(overlay, bucket, key)
    return StorageUsage(objects=int(now) - int(was.current_present))


def _memo(overlay: Overlay, name: str) -> dict[Any, Any]:
    found: dict[Any, Any] = overlay.memo.setdefault(name, {})
    return found


def _usage(overlay: Overlay, key: bytes) -> StorageUsage:
    """A counter record as this batch has it so far (summed in memory: the
    records are written once, by finish_batch)."""
    counters = _memo(overlay, "counters")
    if key in counters:
        return counters[key] or ZERO
    raw = overlay.get(key)
    found = StorageUsage.unpack(raw) if raw is not None else ZERO
    counters[key] = found
    return found


def _put_usage(overlay: Overlay, key: bytes, usage: StorageUsage | None) -> None:
    """None: the record goes (a deleted bucket's)."""
    _memo(overlay, "counters")[key] = usage
    _memo(overlay, "dirty").setdefault(key, True)


def finish_batch(overlay: Overlay) -> None:
    """Writes the counter records this batch changed (call once, at its end)."""
    counters = _memo(overlay, "counters")
    for key in _memo(overlay, "dirty"):
        value = counters[key]
        if value is None:
            overlay.delete(key)
        else:
            overlay.put(key, value.pack())
    overlay.memo.pop("dirty", None)


def _owner(overlay: Overlay, bucket: str) -> str:
    owners = _memo(overlay, "owner")
    if bucket not in owners:
        raw_bucket = overlay.get(keys.bucket_key(bucket))
        assert raw_bucket is not None, bucket
        owners[bucket] = bucket_from_json(raw_bucket).owner
    owner: str = owners[bucket]
    return owner


def _quota(overlay: Overlay, scope: str, name: str) -> Quota | None:
    quotas = _memo(overlay, "quota")
    key = keys.quota_key(scope, name)
    if key not in quotas:
        quotas[key] = read_quota(overlay.get, scope, name)
    quota: Quota | None = quotas[key]
    return quota


def _stored_usage(db: Any, key: bytes) -> StorageUsage:
    raw = db.get(key)
    return StorageUsage.unpack(raw) if raw is not None else ZERO


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _scan(db: _Db, prefix: bytes) -> list[tuple[bytes, bytes]]:
    end = keys.prefix_end(prefix)
    return _scan_range(db, prefix, end)


def _scan_range(db: _Db, start: bytes, end: bytes | None) -> list[tuple[bytes, bytes]]:
    cursor = db.iter()
    cursor.seek(start)
    found = []
    while cursor.valid():
        key: bytes = cursor.key()
        if end is not None and key >= end:
            break
        found.append((key, cursor.value()))
        cursor.next()
    return found
