"""Mutations: every change to the metadata state, as plain records.

They are the entries of the metadata log: the single-replica commit log applies
them as they arrive, the replicated one appends them to etcd and every replica
applies them in log order. encode()/decode() give their log form (JSON).

Adding a kind: a frozen dataclass here (its fields plain JSON values, or a
model record with a case in _to_fields/_from_fields), its name in Mutation and
KINDS, and its effect in state.StateMachine._effect. Nothing else changes: the
log, group commit, idempotency and replication treat every kind alike.

Invariant: a mutation carries every input its effect depends on (timestamps
included, chosen by the submitter; conditions such as If-Match), so applying
it is deterministic; its request_id names it, and a request_id already
applied is not applied again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from tessera import fastjson
from tessera.model import (
    MultipartUpload,
    NodeInfo,
    ObjectVersion,
    Segment,
    segment_from_dict,
    segment_to_dict,
    version_from_dict,
    version_to_dict,
)
from tessera.multipart import ListedPart


@dataclass(frozen=True, slots=True)
class CreateBucket:
    request_id: str
    name: str
    owner: str
    created_at: float
    acl: str = "private"
    object_lock: bool = False  # Object Lock enabled (versioning forced on)


@dataclass(frozen=True, slots=True)
class DeleteBucket:
    request_id: str
    name: str


@dataclass(frozen=True, slots=True)
class PutObject:
    """Makes ``version`` the current version of its key, if its conditions hold.

    if_none_match_star: only if the key has no current version (If-None-Match: *).
    if_match_etag: only if the current version's ETag is this one (If-Match).
    A condition that does not hold is the outcome PreconditionFailed, decided
    when the entry is applied, identically on every replica.
    if_bucket_fingerprint: only if the bucket record is still the one the
    gateway authorized the write against (tessera.model.bucket_fingerprint);
    else the outcome BucketChanged ("" checks nothing).
    """

    request_id: str
    version: ObjectVersion
    if_none_match_star: bool = False
    if_match_etag: str = ""
    # The metadata service's clock when it submitted the entry: retention
    # dates are checked against it, and a bucket's default retention runs
    # from it (0 in entries older than Object Lock: last_modified is used).
    now: float = 0.0
    if_bucket_fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class DeleteObject:
    """Deletes the current version (unversioned bucket), one version by id
    (version_id: internal or S3 id), or adds a delete marker (a versioned
    bucket without version_id; its id and time chosen by the submitter).

    Guards, for deletes decided on an earlier read (lifecycle): with
    if_newest_version_id, only if the key's newest record (a delete marker
    included) still has that internal id; with if_not_newest, only if the
    version deleted by id is not the newest record. Otherwise the outcome is
    PreconditionFailed and nothing changes.
    A version under Object Lock is not removed (AccessDenied): its retention
    is compared with ``now`` (the metadata service's clock at submission);
    bypass_governance lets a GOVERNANCE retention yield (docs/object-lock.md).
    """

    request_id: str
    bucket: str
    key: str
    version_id: str = ""
    marker_version_id: str = ""
    last_modified: float = 0.0
    if_newest_version_id: str = ""
    if_not_newest: bool = False
    bypass_governance: bool = False
    now: float = 0.0
    if_bucket_fingerprint: str = ""  # as PutObject's


@dataclass(frozen=True, slots=True)
class PutBucketVersioning:
    """Sets a bucket's versioning status (Enabled or Suspended)."""

    request_id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class PutObjectTagging:
    """Replaces the tags of a version ("" version_id: the current one)."""

    request_id: str
    bucket: str
    key: str
    version_id: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class RegisterNode:
    """Upserts a node; it is alive as of ``live_revision`` (the liveness
    source's revision of its registration)."""

    request_id: str
    node: NodeInfo
    live_revision: int = 0


@dataclass(frozen=True, slots=True)
class NodeLiveness:
    """A node seen alive (or gone) by the liveness source at ``observed_revision``.

    Applied only if observed_revision is newer than what the state already
    knows of the node, so a stale observation never undoes a newer one.
    """

    request_id: str
    node_id: str
    alive: bool
    observed_revision: int


@dataclass(frozen=True, slots=True)
class CreateMultipartUpload:
    """Starts an upload (its id chosen by the submitter); NoSuchBucket without its bucket."""

    request_id: str
    upload: MultipartUpload


@dataclass(frozen=True, slots=True)
class PutPart:
    """Records a part whose shards are durable; NoSuchUpload when the upload is
    gone. Outcome: the part it replaced (same number), if any."""

    request_id: str
    bucket: str
    key: str
    upload_id: str
    part: Segment


@dataclass(frozen=True, slots=True)
class CompleteMultipartUpload:
    """Makes the listed parts the segments of a new current version of the key
    (version_id and last_modified chosen by the submitter), removing the upload
    and all its part records at once. The checks (tessera.multipart.choose_parts
    with part_size_min_bytes, and the conditions as in PutObject) are decided
    when the entry is applied. Outcome: a CompletedUpload."""

    request_id: str
    bucket: str
    key: str
    upload_id: str
    parts: tuple[ListedPart, ...]
    version_id: str
    last_modified: float
    part_size_min_bytes: int
    if_none_match_star: bool = False
    if_match_etag: str = ""


@dataclass(frozen=True, slots=True)
class AbortMultipartUpload:
    """Removes an upload and its part records; outcome: PartsReleased."""

    request_id: str
    bucket: str
    key: str
    upload_id: str


@dataclass(frozen=True, slots=True)
class UpdatePlacement:
    """Repair's compare-and-set: slot shard_index of a shard set moves from
    expected_node_id ("" for a slot never written) to new_node_id.

    Applied only if bucket/key's current version is still version_id (or,
    for a part, the upload still holds a part with that shard set) and the
    slot still names expected_node_id; otherwise the outcome is
    PreconditionFailed and nothing changes (a concurrent overwrite or delete
    wins; the rebuilt shard is garbage). Clears the slot's problem reports.
    """

    request_id: str
    bucket: str
    key: str
    version_id: str
    shard_set_id: str
    shard_index: int
    expected_node_id: str
    new_node_id: str
    # A part of an upload in progress: version_id is "" and the CAS is on
    # the part record of this upload (PreconditionFailed once it completed,
    # was aborted, or the part was replaced).
    upload_id: str = ""


@dataclass(frozen=True, slots=True)
class ReportShardProblem:
    """A shard is bad: quarantined by its node ("corrupt") or absent from a
    node whose store the repair leader audited ("missing"); repair rebuilds it."""

    request_id: str
    shard_set_id: str
    shard_index: int
    node_id: str
    problem: str
    reported_at: float


@dataclass(frozen=True, slots=True)
class ClearShardProblem:
    """Drops a problem report that no longer names a placed shard."""

    request_id: str
    shard_set_id: str
    shard_index: int
    node_id: str


@dataclass(frozen=True, slots=True)
class SetRepairRate:
    """The repair scheduler's byte rate, changed at runtime (0: the configured default)."""

    request_id: str
    bytes_per_second: float


@dataclass(frozen=True, slots=True)
class SetNodeState:
    """An operator's node state: "draining" (its shards move away) or "up"."""

    request_id: str
    node_id: str
    state: str


@dataclass(frozen=True, slots=True)
class RemoveNode:
    """Takes a node out of the cluster map for good (docs/operations.md).

    Applied only if the node is draining or down (forced: down); the service
    checked beforehand, at the log's head, that no placement names it (forced:
    that every set naming it stays readable without it). The node's id is
    remembered as removed, so the node registering again is refused until
    ReadmitNode."""

    request_id: str
    node_id: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class ReadmitNode:
    """Lets a removed node's id register again (as a new, empty node)."""

    request_id: str
    node_id: str


@dataclass(frozen=True, slots=True)
class NoteStoreAudited:
    """The repair leader listed a node's store with this store id against
    its placements (metadata/audit.py): a later leader need not audit it again."""

    request_id: str
    node_id: str
    store_id: str


@dataclass(frozen=True, slots=True)
class ReadLease:
    """A replica takes (or renews) a read lease (metadata/read_lease.py): no
    effect on the state; every replica that applies it learns the holder and
    waits for it before answering a write, until the lease has run out."""

    request_id: str
    replica_id: str
    address: str
    duration_ms: int
    nonce: str  # names the grant for its holder, which kept its clock at sending


@dataclass(frozen=True, slots=True)
class SetBucketAccess:
    """Sets one access field of a bucket: "acl" (a canned ACL), "policy",
    "cors", "lifecycle", "tags", "website" or "encryption" (JSON text; ""
    removes it),
    "cache-control" (the default Cache-Control of public objects),
    "object_lock" (the default rule), "ownership" (a rule, "" removes it),
    "public_access_block" (flags JSON, "" removes it). Each is checked again
    when applied, against the bucket's other settings (a public policy under
    BlockPublicPolicy is refused)."""

    request_id: str
    bucket: str
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class SetObjectAcl:
    """Sets the canned ACL of a key's current version ("" or "private": private)."""

    request_id: str
    bucket: str
    key: str
    acl: str


@dataclass(frozen=True, slots=True)
class SetObjectLock:
    """Changes the Object Lock state of one version ("" version_id: the
    current one). field "retention": mode ("" removes it) and retain_until,
    under tessera.object_lock.check_retention_change at ``now``; field
    "legal_hold": legal_hold on or off."""

    request_id: str
    bucket: str
    key: str
    version_id: str
    field: str
    mode: str = ""
    retain_until: float = 0.0
    legal_hold: bool = False
    bypass_governance: bool = False
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class CreateUser:
    request_id: str
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class DeleteUser:
    """Removes a user and revokes all its keys; DeleteConflict while it owns buckets."""

    request_id: str
    name: str
    owner_id: str  # the user's bucket owner id (tessera.access.owner_id)


@dataclass(frozen=True, slots=True)
class CreateAccessKey:
    """A new key of an existing user; the secret only sealed (hex of nonce + ciphertext)."""

    request_id: str
    access_key_id: str
    user: str
    sealed_secret_hex: str
    created_at: float


@dataclass(frozen=True, slots=True)
class CreateKmsKey:
    """A new key of the built-in key service, wrapped (hex). When its alias is
    taken, nothing changes and the existing key is the result."""

    request_id: str
    key_id: str
    alias: str
    wrapped_key_hex: str
    created_at: float


@dataclass(frozen=True, slots=True)
class RevokeAccessKey:
    request_id: str
    access_key_id: str


@dataclass(frozen=True, slots=True)
class SetQuota:
    """Sets the quota of a bucket or an owner (scope "bucket" or "owner"; name:
    the bucket name or the owner id); both limits None clears it."""

    request_id: str
    scope: str
    name: str
    max_bytes: int | None = None
    max_objects: int | None = None


@dataclass(frozen=True, slots=True)
class RecordRequestUsage:
    """One gateway flush of request counters: (hour, bucket, counters) records.

    The request id names the flush, so a retried flush is counted once.
    retention_hours: hourly records older than the newest hour here minus
    this are pruned (a few per flush).
    """

    request_id: str
    records: tuple[tuple[int, str, dict[str, int]], ...]
    retention_hours: int


@dataclass(frozen=True, slots=True)
class RecountUsage:
    """Recomputes a bucket's storage counters from its records (data stored
    before counters existed); the owner's and cluster's follow by the difference."""

    request_id: str
    bucket: str


Mutation = (
    CreateBucket
    | DeleteBucket
    | PutObject
    | DeleteObject
    | PutBucketVersioning
    | PutObjectTagging
    | RegisterNode
    | NodeLiveness
    | CreateMultipartUpload
    | PutPart
    | CompleteMultipartUpload
    | AbortMultipartUpload
    | UpdatePlacement
    | ReportShardProblem
    | ClearShardProblem
    | SetRepairRate
    | SetNodeState
    | RemoveNode
    | ReadmitNode
    | NoteStoreAudited
    | ReadLease
    | SetBucketAccess
    | SetObjectAcl
    | SetObjectLock
    | CreateUser
    | DeleteUser
    | CreateAccessKey
    | RevokeAccessKey
    | CreateKmsKey
    | SetQuota
    | RecordRequestUsage
    | RecountUsage
)

KINDS: dict[str, type[Mutation]] = {
    cls.__name__: cls
    for cls in (
        CreateBucket,
        DeleteBucket,
        PutObject,
        DeleteObject,
        PutBucketVersioning,
        PutObjectTagging,
        RegisterNode,
        NodeLiveness,
        CreateMultipartUpload,
        PutPart,
        CompleteMultipartUpload,
        AbortMultipartUpload,
        UpdatePlacement,
        ReportShardProblem,
        ClearShardProblem,
        SetRepairRate,
        SetNodeState,
        RemoveNode,
        ReadmitNode,
        NoteStoreAudited,
        ReadLease,
        SetBucketAccess,
        SetObjectAcl,
        SetObjectLock,
        CreateUser,
        DeleteUser,
        CreateAccessKey,
        RevokeAccessKey,
        CreateKmsKey,
        SetQuota,
        RecordRequestUsage,
        RecountUsage,
    )
}


def kind_of(mutation: Mutation) -> str:
    """The mutation's kind name (a bounded set, usable as a metric label)."""
    return type(mutation).__name__


def to_fields(mutation: Mutation) -> dict[str, Any]:
    """The mutation as a JSON-ready dict (with its "kind")."""
    body = {f.name: getattr(mutation, f.name) for f in dataclasses.fields(mutation)}
    match mutation:
        case PutObject():
            body["version"] = version_to_dict(mutation.version)
        case RegisterNode():
            body["node"] = dataclasses.asdict(mutation.node)
        case CreateMultipartUpload():
            body["upload"] = dataclasses.asdict(mutation.upload)
        case PutPart():
            body["part"] = segment_to_dict(mutation.part)
        case CompleteMultipartUpload():
            # compact: 10,000 parts with checksums must fit one log entry
            body["parts"] = [
                [p.part_number, p.etag, p.checksums] if p.checksums else [p.part_number, p.etag]
                for p in mutation.parts
            ]
    body["kind"] = kind_of(mutation)
    return body


def from_fields(fields: dict[str, Any]) -> Mutation:
    body = dict(fields)
    kind = body.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"unknown mutation kind {kind!r}")
    if kind == "PutObject":
        body["version"] = version_from_dict(body["version"])
    elif kind == "RegisterNode":
        body["node"] = NodeInfo(**body["node"])
    elif kind == "CreateMultipartUpload":
        body["upload"] = MultipartUpload(**body["upload"])
    elif kind == "PutPart":
        body["part"] = segment_from_dict(body["part"])
    elif kind == "CompleteMultipartUpload":
        body["parts"] = tuple(ListedPart(*p) for p in body["parts"])
    elif kind == "RecordRequestUsage":
        body["records"] = tuple((int(h), str(b), dict(c)) for h, b, c in body["records"])
    return KINDS[kind](**body)


def encode(mutation: Mutation) -> bytes:
    return json.dumps(to_fields(mutation), separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes) -> Mutation:
    return from_fields(fastjson.loads(raw))


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A mutation at its place in the log; positions increase strictly along the log."""

    position: int
    mutation: Mutation
