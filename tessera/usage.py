"""Usage accounting and quota arithmetic (pure: no I/O), docs/usage-and-quotas.md.

Storage usage is a vector of counters (StorageUsage) that the metadata state
machine adds to a bucket's and its owner's totals for every applied mutation
that creates, replaces or removes a version, a delete marker, a multipart
upload or a part. Request usage is a vector of per-class request counts and
bytes (RequestCounters), aggregated per hour and bucket.

Invariants:
- every function here is deterministic (no clock): replicas applying the same
  mutations compute the same numbers;
- of_version / of_part are the whole contribution of one record, so adding a
  record and later removing it sums to zero exactly;
- a quota refuses only a change that grows the quantity it caps past its
  maximum: deletes, and overwrites that shrink usage, are always allowed.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import Any

from tessera.geometry import Geometry
from tessera.model import ObjectVersion, Segment

SECONDS_PER_HOUR = 3600
RETENTION_HOURS_DEFAULT = 90 * 24

# Request classes as object storage is priced: PUT, COPY, POST and LIST are one
# class, GET, HEAD and the other reads another, DELETE and abort are free.
CLASS_PUT = "put_class"
CLASS_GET = "get_class"
CLASS_DELETE = "delete"
REQUEST_CLASSES = (CLASS_PUT, CLASS_GET, CLASS_DELETE)


@dataclass(frozen=True, slots=True)
class StorageUsage:
    """What one bucket (or owner, or the cluster) stores.

    objects: keys with a current version (what ListObjects shows);
    versions: every stored version holding data, current or not;
    delete_markers: delete markers (metadata only, no data);
    logical_bytes / physical_bytes: bytes of all stored versions, as sent by
    clients / as kept on nodes (every shard of every stripe, padding included);
    multipart_*: uploads in progress and the parts uploaded to them so far.
    """

    objects: int = 0
    versions: int = 0
    delete_markers: int = 0
    logical_bytes: int = 0
    physical_bytes: int = 0
    multipart_uploads: int = 0
    multipart_parts: int = 0
    multipart_bytes: int = 0
    multipart_physical_bytes: int = 0

    def __add__(self, other: StorageUsage) -> StorageUsage:
        return StorageUsage(*_sum(self, other, _STORAGE_FIELDS))

    def __neg__(self) -> StorageUsage:
        return StorageUsage(*(-getattr(self, name) for name in _STORAGE_FIELDS))

    def __sub__(self, other: StorageUsage) -> StorageUsage:
        return self + (-other)

    @property
    def quota_bytes(self) -> int:
        """The bytes a max-bytes quota caps: stored versions and uploaded parts."""
        return self.logical_bytes + self.multipart_bytes

    def is_zero(self) -> bool:
        return not any(getattr(self, name) for name in _STORAGE_FIELDS)

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _STORAGE_FIELDS}

    @staticmethod
    def from_dict(body: dict[str, Any]) -> StorageUsage:
        return StorageUsage(**{k: int(v) for k, v in body.items() if k in _STORAGE_FIELDS})

    def pack(self) -> bytes:
        """The stored form: fixed-size big-endian signed integers (JSON would
        cost more than the rest of the accounting of one mutation)."""
        return _PACKED.pack(*(getattr(self, name) for name in _STORAGE_FIELDS))

    @staticmethod
    def unpack(raw: bytes) -> StorageUsage:
        return StorageUsage(*_PACKED.unpack(raw))


# Field names, read with getattr: dataclasses.astuple/asdict deep-copy, which
# cost more than the rest of an apply (these run several times per mutation).
_STORAGE_FIELDS = tuple(f.name for f in dataclasses.fields(StorageUsage))
_PACKED = struct.Struct(f">{len(_STORAGE_FIELDS)}q")
ZERO = StorageUsage()


def _sum(a: Any, b: Any, names: tuple[str, ...]) -> list[int]:
    """Field-wise sum of two records of one dataclass type."""
    return [getattr(a, name) + getattr(b, name) for name in names]


def shard_set_physical_bytes(size_bytes: int, geometry: Geometry) -> int:
    """Bytes one shard set of size_bytes occupies on nodes when fully redundant."""
    return geometry.shard_size_bytes(size_bytes) * geometry.total_shards


def physical_bytes_of(version: ObjectVersion) -> int:
    if version.delete_marker:
        return 0
    if version.segments:
        return sum(shard_set_physical_bytes(s.size_bytes, s.geometry) for s in version.segments)
    if version.inline_data or version.size_bytes == 0 or version.data_shards == 0:
        # Kept in the record (docs/inline-objects.md): the bytes once, on no node.
        return len(version.inline_data)
    return shard_set_physical_bytes(version.size_bytes, version.geometry)


def of_version(version: ObjectVersion | None) -> StorageUsage:
    """The contribution of one stored version record (a delete marker counts
    as a marker only); objects are counted apart, from current-version presence."""
    if version is None:
        return ZERO
    if version.delete_marker:
        return StorageUsage(delete_markers=1)
    return StorageUsage(
        versions=1, logical_bytes=version.size_bytes, physical_bytes=physical_bytes_of(version)
    )


def of_part(part: Segment | None) -> StorageUsage:
    if part is None:
        return ZERO
    return StorageUsage(
        multipart_parts=1,
        multipart_bytes=part.size_bytes,
        multipart_physical_bytes=shard_set_physical_bytes(part.size_bytes, part.geometry),
    )


def of_parts(parts: tuple[Segment, ...] | list[Segment]) -> StorageUsage:
    total = ZERO
    for part in parts:
        total = total + of_part(part)
    return total


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits of one bucket or one owner; None: no limit on that quantity."""

    max_bytes: int | None = None
    max_objects: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"max_bytes": self.max_bytes, "max_objects": self.max_objects}

    @staticmethod
    def from_dict(body: dict[str, Any]) -> Quota:
        b, o = body.get("max_bytes"), body.get("max_objects")
        return Quota(None if b is None else int(b), None if o is None else int(o))

    @property
    def is_unlimited(self) -> bool:
        return self.max_bytes is None and self.max_objects is None


def quota_violation(quota: Quota, after: StorageUsage, delta: StorageUsage) -> str:
    """Why applying delta (giving after) breaks quota, or "" when it does not.

    max_objects caps stored versions (what occupies storage); max_bytes caps
    stored versions' bytes plus parts of uploads in progress. Only growth is
    refused, so usage over a lowered quota can always shrink.
    """
    if quota.max_objects is not None and delta.versions > 0 and after.versions > quota.max_objects:
        return f"the quota allows {quota.max_objects} objects"
    grows_bytes = delta.quota_bytes > 0
    if quota.max_bytes is not None and grows_bytes and after.quota_bytes > quota.max_bytes:
        return f"the quota allows {quota.max_bytes} bytes"
    return ""


@dataclass(frozen=True, slots=True)
class RequestCounters:
    """Requests by class and object bytes in and out (of one hour and bucket)."""

    put_class: int = 0
    get_class: int = 0
    delete: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def __add__(self, other: RequestCounters) -> RequestCounters:
        return RequestCounters(*_sum(self, other, _COUNTER_FIELDS))

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTER_FIELDS}

    @staticmethod
    def from_dict(body: dict[str, Any]) -> RequestCounters:
        return RequestCounters(**{k: int(v) for k, v in body.items() if k in _COUNTER_FIELDS})

    def is_valid(self) -> bool:
        return all(getattr(self, name) >= 0 for name in _COUNTER_FIELDS)


_COUNTER_FIELDS = tuple(f.name for f in dataclasses.fields(RequestCounters))


def request_class(operation: str) -> str:
    """The billing class of an S3 operation name (gateway routing's names)."""
    if operation.startswith("Delete") or operation == "AbortMultipartUpload":
        return CLASS_DELETE
    if operation.startswith(("Get", "Head")) or operation in ("PreflightRequest", "Unknown"):
        return CLASS_GET
    if operation.startswith("Unsupported:"):
        return CLASS_GET
    return CLASS_PUT


def one_request(operation: str, bytes_in: int = 0, bytes_out: int = 0) -> RequestCounters:
    cls = request_class(operation)
    return RequestCounters(
        put_class=int(cls == CLASS_PUT),
        get_class=int(cls == CLASS_GET),
        delete=int(cls == CLASS_DELETE),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
    )


def hour_of(unix_seconds: float) -> int:
    """Hours since the Unix epoch (the hourly bucket a request falls into)."""
    return int(unix_seconds // SECONDS_PER_HOUR)
