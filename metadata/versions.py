"""Object versioning in the metadata state: version records, null versions,
delete markers and tags (docs/versioning.md).

Layout (metadata/keys.py): in a bucket whose versioning status is set, every
version and delete marker of a key is a record under
``v/<bucket>\\0<key>\\0<inverted sequence>`` (newest first; the sequence is
the log position of the mutation that made it), found by id through ``w/``
(by internal version id, and by "null" for the null version). ``o/<bucket>\\0<key>``
holds a copy of the newest record when that is not a delete marker: GET and
ListObjects read only ``o/``. A bucket that never had versioning has no
``v/`` records; its ``o/`` record is its only (null) version.

Invariants, in a versioned bucket:
- ``o/`` equals the newest ``v/`` record of its key, and is absent when that
  is a delete marker or the key has no versions left;
- at most one record of a key has s3_version_id "null" (a new null version
  replaces it);
- every function that removes a record returns it: its shards are no longer
  referenced and may be reclaimed; nothing else is ever returned as removed;
- no record under an active Object Lock retention or legal hold is removed:
  _drop and commit ask tessera.object_lock.check_removable first, at the
  entry's ``now`` (docs/object-lock.md).

Effects read and write only through the Overlay and raise the S3 error they
decide on, like the rest of metadata/state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from metadata import keys
from metadata.mutations import DeleteObject, PutBucketVersioning, PutObjectTagging
from metadata.overlay import Overlay
from tessera import errors, object_lock
from tessera.access import check_acl_allowed
from tessera.model import (
    NULL_VERSION_ID,
    VERSIONING_ENABLED,
    VERSIONING_STATUSES,
    BucketInfo,
    ObjectDeleted,
    ObjectVersion,
    bucket_from_json,
    record_to_json,
    version_from_json,
    version_to_json,
)
from tessera.tagging import check_tags

Get = Callable[[bytes], "bytes | None"]


# ---------------------------------------------------------------- reads


def find(get: Get, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
    """The version of bucket/key with this id (internal or S3 id, "null" for
    the null version), or None."""
    inverted = get(keys.version_id_key(bucket, key, version_id))
    if inverted is not None:
        raw = get(keys.version_key(bucket, key, inverted))
        return version_from_json(raw) if raw is not None else None
    raw = get(keys.object_key(bucket, key))
    if raw is None:
        return None
    current = version_from_json(raw)
    if current.version_id == version_id:
        return current
    if version_id == NULL_VERSION_ID and current.s3_version_id in ("", NULL_VERSION_ID):
        return current
    return None


def newest(overlay: Overlay, bucket: str, key: str) -> ObjectVersion | None:
    """The newest record of a key in a versioned bucket (a delete marker included)."""
    first = overlay.first(keys.versions_prefix(bucket, key))
    return version_from_json(first[1]) if first is not None else None


# ---------------------------------------------------------------- effects


def commit(
    overlay: Overlay, bucket: BucketInfo, version: ObjectVersion, position: int, now: float = 0.0
) -> ObjectVersion | None:
    """Makes version the newest of its key; returns the version it removed
    (the replaced current one in an unversioned bucket, the replaced null
    version in a suspended one, None in an enabled one).

    now: the metadata service's clock at submission (0: the version's
    last_modified). A version removed here must be unlocked at ``now``; a
    new version gets its bucket's default retention unless it names one."""
    now = now or version.last_modified
    if not version.delete_marker:
        check_acl_allowed(bucket.ownership, bucket.public_access_block, version.acl)
        version = _with_lock(bucket, version, now)
    object_key = keys.object_key(version.bucket, version.key)
    if not bucket.versioning:
        raw = overlay.get(object_key)
        if raw is not None:
            object_lock.check_removable(version_from_json(raw).lock, now, bypass_governance=False)
        overlay.put(object_key, version_to_json(version), decoded=version)
        return version_from_json(raw) if raw is not None else None
    if bucket.versioning == VERSIONING_ENABLED:
        removed = None
        version = replace(version, s3_version_id=version.version_id)
    else:
        removed = _drop(
            overlay, version.bucket, version.key, NULL_VERSION_ID, now, bypass_governance=False
        )
        version = replace(version, s3_version_id=NULL_VERSION_ID)
    _add(overlay, version, position)
    return removed


def _with_lock(bucket: BucketInfo, version: ObjectVersion, now: float) -> ObjectVersion:
    """The version with the lock it is committed with: the one its request
    named (checked: a future date, in a bucket with Object Lock), else its
    bucket's default retention."""
    if not bucket.object_lock_enabled:
        if version.lock_mode or version.legal_hold:
            raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
        return version
    if version.lock_mode:
        object_lock.check_new_retention(version.lock_mode, version.retain_until, now)
        return version
    lock = object_lock.default_lock(object_lock.config_from_json(bucket.object_lock), now)
    return replace(version, lock_mode=lock.mode, retain_until=lock.retain_until)


def delete(overlay: Overlay, bucket: BucketInfo, m: DeleteObject, position: int) -> ObjectDeleted:
    """DeleteObject in a versioned bucket: by version id removes that record
    (unless Object Lock protects it); without one, adds a delete marker (a
    null one when suspended, replacing the null version)."""
    now = m.now or m.last_modified
    if m.version_id:
        removed = _drop(
            overlay, m.bucket, m.key, m.version_id, now, bypass_governance=m.bypass_governance
        )
        return ObjectDeleted(removed=removed, marker=None)
    assert m.marker_version_id, "a delete marker's id is chosen by the submitter"
    marker = ObjectVersion(
        bucket=m.bucket,
        key=m.key,
        version_id=m.marker_version_id,
        size_bytes=0,
        etag="",
        content_type="",
        last_modified=m.last_modified,
        data_shards=0,
        parity_shards=0,
        chunk_size_bytes=0,
        placement=(),
        request_id=m.request_id,
        delete_marker=True,
    )
    removed = commit(overlay, bucket, marker, position, now)
    added = newest(overlay, m.bucket, m.key)
    assert added is not None and added.delete_marker
    return ObjectDeleted(removed=removed, marker=added)


def set_versioning(overlay: Overlay, m: PutBucketVersioning, position: int) -> BucketInfo:
    """Sets the status; the first time, every object becomes a null version."""
    raw = overlay.get(keys.bucket_key(m.name))
    if raw is None:
        raise errors.NoSuchBucket()
    if m.status not in VERSIONING_STATUSES:
        raise errors.MalformedXML(f"versioning status {m.status!r}")
    bucket = bucket_from_json(raw)
    if bucket.object_lock_enabled and m.status != VERSIONING_ENABLED:
        raise errors.InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning"
            " state cannot be changed."
        )
    if not bucket.versioning:
        # One WriteBatch over the bucket's objects: the log entry stays small,
        # the replica's apply is proportional to the bucket (docs/versioning.md).
        for _, value in overlay.scan(keys.object_namespace(m.name)):
            current = version_from_json(value)
            _add(overlay, replace(current, s3_version_id=NULL_VERSION_ID), position)
    updated = replace(bucket, versioning=m.status)
    overlay.put(keys.bucket_key(m.name), record_to_json(updated))
    return updated


def set_tags(overlay: Overlay, m: PutObjectTagging) -> ObjectVersion:
    """Replaces the tags of a version (the current one when no id is given)."""
    check_tags(m.tags)
    if m.version_id:
        version = find(overlay.get, m.bucket, m.key, m.version_id)
        if version is None:
            raise errors.NoSuchVersion()
    else:
        raw = overlay.get(keys.object_key(m.bucket, m.key))
        if raw is None:
            raise errors.NoSuchKey()
        version = version_from_json(raw)
    if version.delete_marker:
        raise errors.MethodNotAllowed("A delete marker has no tags.")
    updated = replace(version, tags=dict(m.tags))
    rewrite(overlay, updated)
    return updated


def rewrite(overlay: Overlay, version: ObjectVersion) -> None:
    """Stores a changed record (same version id) wherever the version is kept."""
    raw_inverted = overlay.get(keys.version_id_key(version.bucket, version.key, version.version_id))
    if raw_inverted is not None:
        overlay.put(
            keys.version_key(version.bucket, version.key, raw_inverted), version_to_json(version)
        )
    object_key = keys.object_key(version.bucket, version.key)
    raw_current = overlay.get(object_key)
    if raw_current is not None and version_from_json(raw_current).version_id == version.version_id:
        overlay.put(object_key, version_to_json(version))


def _add(overlay: Overlay, version: ObjectVersion, position: int) -> None:
    inverted = keys.inverted_sequence(position)
    value = version_to_json(version)
    overlay.put(keys.version_key(version.bucket, version.key, inverted), value)
    overlay.put(keys.version_id_key(version.bucket, version.key, version.version_id), inverted)
    if version.s3_version_id == NULL_VERSION_ID:
        overlay.put(keys.version_id_key(version.bucket, version.key, NULL_VERSION_ID), inverted)
    _refresh_current(overlay, version.bucket, version.key)


def _drop(
    overlay: Overlay,
    bucket: str,
    key: str,
    version_id: str,
    now: float,
    *,
    bypass_governance: bool,
) -> ObjectVersion | None:
    """Removes one record — the only place a versioned record is removed, so
    Object Lock is decided here (AccessDenied while locked at ``now``)."""
    inverted = overlay.get(keys.version_id_key(bucket, key, version_id))
    if inverted is None:
        return None
    record_key = keys.version_key(bucket, key, inverted)
    raw = overlay.get(record_key)
    assert raw is not None, (bucket, key, version_id)
    version = version_from_json(raw)
    object_lock.check_removable(version.lock, now, bypass_governance=bypass_governance)
    overlay.delete(record_key)
    overlay.delete(keys.version_id_key(bucket, key, version.version_id))
    if version.s3_version_id == NULL_VERSION_ID:
        overlay.delete(keys.version_id_key(bucket, key, NULL_VERSION_ID))
    _refresh_current(overlay, bucket, key)
    return version


def _refresh_current(overlay: Overlay, bucket: str, key: str) -> None:
    newest = overlay.first(keys.versions_prefix(bucket, key))
    object_key = keys.object_key(bucket, key)
    if newest is None or version_from_json(newest[1]).delete_marker:
        if overlay.get(object_key) is not None:
            overlay.delete(object_key)
    else:
        overlay.put(object_key, newest[1])
