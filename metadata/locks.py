"""State effects of Object Lock on one version: PutObjectRetention and
PutObjectLegalHold (SetObjectLock), and a bucket's lock configuration
(docs/object-lock.md).

Invariant: a version's lock changes only under
tessera.object_lock.check_retention_change at the entry's ``now`` (the
metadata service's clock, stamped at submission), so a COMPLIANCE retention
is never shortened or removed by any path through the log; the record is
rewritten wherever the version is kept (metadata/versions.rewrite).
"""

from __future__ import annotations

from dataclasses import replace

from metadata import keys, versions
from metadata.mutations import SetObjectLock
from metadata.overlay import Overlay
from tessera import errors, object_lock
from tessera.model import VERSIONING_ENABLED, BucketInfo, ObjectVersion, version_from_json

FIELDS = ("retention", "legal_hold")


def set_object_lock(overlay: Overlay, bucket: BucketInfo, m: SetObjectLock) -> ObjectVersion:
    if not bucket.object_lock_enabled:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
    if m.field not in FIELDS:
        raise errors.InvalidArgument(f"no object lock field {m.field!r}")
    if m.version_id:
        version = versions.find(overlay.get, m.bucket, m.key, m.version_id)
        if version is None:
            raise errors.NoSuchVersion()
    else:
        raw = overlay.get(keys.object_key(m.bucket, m.key))
        if raw is None:
            raise errors.NoSuchKey()
        version = version_from_json(raw)
    if version.delete_marker:
        raise errors.MethodNotAllowed("A delete marker cannot be locked.")
    if m.field == "legal_hold":
        updated = replace(version, legal_hold=m.legal_hold)
    else:
        object_lock.check_retention_change(
            version.lock, m.mode, m.retain_until, m.now, bypass_governance=m.bypass_governance
        )
        updated = replace(version, lock_mode=m.mode, retain_until=m.retain_until if m.mode else 0.0)
    versions.rewrite(overlay, updated)
    return updated


def set_lock_configuration(bucket: BucketInfo, value: str) -> BucketInfo:
    """The bucket with Object Lock enabled and value (config_to_json's text)
    as its default rule. Enabling it on an existing bucket needs versioning
    Enabled (as S3); it is never disabled."""
    if not value:
        raise errors.InvalidArgument("Object Lock cannot be disabled once enabled.")
    object_lock.config_from_json(value)
    if not bucket.object_lock_enabled and bucket.versioning != VERSIONING_ENABLED:
        raise errors.InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
        )
    return replace(bucket, object_lock=value)
