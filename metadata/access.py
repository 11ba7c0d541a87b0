"""State effects of the access mutations: users, access keys, bucket access
fields (ACL, policy, CORS, lifecycle rules, tags, website, default
Cache-Control) and object ACLs.

Invariants: an access key always names an existing user (DeleteUser removes
the user's keys in the same effect); a user that owns buckets cannot be
deleted; a key's secret is stored only sealed — metadata never sees it in
the clear (tessera/sealing.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from metadata import keys, locks, versions
from metadata.mutations import (
    CreateAccessKey,
    CreateUser,
    DeleteUser,
    RevokeAccessKey,
    SetBucketAccess,
    SetObjectAcl,
)
from metadata.overlay import Overlay
from tessera import access, bucket_encryption, caching, errors, lifecycle, limits, policy, website
from tessera.model import (
    AccessKeyInfo,
    BucketInfo,
    ObjectVersion,
    UserInfo,
    access_key_from_json,
    access_key_to_json,
    bucket_from_json,
    record_to_json,
    version_from_json,
)
from tessera.tagging import check_tags

ACCESS_KEY_ID_MAX_CHARS = 128


def create_user(overlay: Overlay, m: CreateUser) -> UserInfo:
    access.check_user_name(m.name)
    if overlay.get(keys.user_key(m.name)) is not None:
        raise errors.EntityAlreadyExists(f"The user {m.name} already exists.")
    user = UserInfo(m.name, m.created_at)
    overlay.put(keys.user_key(m.name), record_to_json(user))
    return user


def delete_user(overlay: Overlay, m: DeleteUser) -> None:
    if overlay.get(keys.user_key(m.name)) is None:
        raise errors.NoSuchEntity(f"The user {m.name} does not exist.")
    owned = [
        bucket_from_json(raw).name
        for _, raw in overlay.scan(keys.BUCKET)
        if bucket_from_json(raw).owner == m.owner_id
    ]
    if owned:
        raise errors.DeleteConflict(f"The user still owns buckets: {', '.join(owned[:10])}")
    for key, raw in overlay.scan(keys.ACCESS_KEY):
        if access_key_from_json(raw).user == m.name:
            overlay.delete(key)
    overlay.delete(keys.user_key(m.name))


def create_access_key(overlay: Overlay, m: CreateAccessKey) -> AccessKeyInfo:
    if overlay.get(keys.user_key(m.user)) is None:
        raise errors.NoSuchEntity(f"The user {m.user} does not exist.")
    if not m.access_key_id or len(m.access_key_id) > ACCESS_KEY_ID_MAX_CHARS:
        raise errors.InvalidArgument("An access key id is 1-128 characters.")
    if overlay.get(keys.access_key_key(m.access_key_id)) is not None:
        raise errors.EntityAlreadyExists("The access key id is taken.")
    try:
        sealed = bytes.fromhex(m.sealed_secret_hex)
    except ValueError as exc:  # an S3 outcome, never a crash of apply
        raise errors.InvalidArgument("The sealed secret is not hex.") from exc
    key = AccessKeyInfo(m.access_key_id, m.user, sealed, m.created_at)
    overlay.put(keys.access_key_key(m.access_key_id), access_key_to_json(key))
    return key


def revoke_access_key(overlay: Overlay, m: RevokeAccessKey) -> None:
    if overlay.get(keys.access_key_key(m.access_key_id)) is None:
        raise errors.NoSuchEntity("The access key does not exist.")
    overlay.delete(keys.access_key_key(m.access_key_id))


def set_bucket_access(overlay: Overlay, m: SetBucketAccess) -> BucketInfo:
    raw = overlay.get(keys.bucket_key(m.bucket))
    if raw is None:
        raise errors.NoSuchBucket()
    bucket = bucket_from_json(raw)
    if m.field == "acl":
        acl = access.check_canned_acl(m.value)
        access.check_acl_allowed(bucket.ownership, bucket.public_access_block, acl)
        updated = replace(bucket, acl=acl)
    elif m.field == "policy":
        if m.value:
            parsed = policy.parse_policy(m.value, m.bucket)
            blocked = access.public_access_block(bucket.public_access_block).block_public_policy
            if blocked and policy.is_public(parsed):
                raise errors.AccessDenied(
                    "Public policies are blocked by the bucket's PublicAccessBlock."
                )
        updated = replace(bucket, policy=m.value)
    elif m.field == "cors":
        if m.value:
            access.check_cors_rules(access.cors_from_json(m.value))
        updated = replace(bucket, cors=m.value)
    elif m.field == "lifecycle":
        if m.value:
            lifecycle.check_rules(_stored(lifecycle.rules_from_json, m.value))
        updated = replace(bucket, lifecycle=m.value)
    elif m.field == "tags":
        if m.value:
            check_tags(_stored(_tags_from_json, m.value), limits.TAGS_PER_BUCKET_MAX)
        updated = replace(bucket, tags=m.value)
    elif m.field == "website":
        if m.value:
            website.config_from_json(m.value)
        updated = replace(bucket, website=m.value)
    elif m.field == "cache-control":
        updated = replace(bucket, cache_control=caching.check_cache_control(m.value))
    elif m.field == "object_lock":
        updated = locks.set_lock_configuration(bucket, m.value)
    elif m.field == "ownership":
        if m.value:
            access.check_ownership(m.value)
            if access.acls_disabled(m.value) and bucket.acl != "private":
                raise errors.InvalidBucketAclWithObjectOwnership(
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
                )
        updated = replace(bucket, ownership=m.value)
    elif m.field == "public_access_block":
        access.public_access_block(m.value)
        updated = replace(bucket, public_access_block=m.value)
    elif m.field == "encryption":
        bucket_encryption.validate_json(m.value)
        updated = replace(bucket, encryption=m.value)
    else:
        raise errors.InvalidArgument(f"no bucket access field {m.field!r}")
    overlay.put(keys.bucket_key(m.bucket), record_to_json(updated))
    return updated


T = TypeVar("T")


def _stored(parse: Callable[[str], T], value: str) -> T:
    """A field's JSON read back; a value that is not is InvalidArgument, never a crash of apply."""
    try:
        return parse(value)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.InvalidArgument("The stored form of the field is not valid.") from exc


def _tags_from_json(value: str) -> dict[str, str]:
    tags = json.loads(value)
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise ValueError("tags must be an object of strings")
    return tags


def set_object_acl(overlay: Overlay, m: SetObjectAcl) -> ObjectVersion:
    raw_bucket = overlay.get(keys.bucket_key(m.bucket))
    if raw_bucket is None:
        raise errors.NoSuchBucket()
    bucket = bucket_from_json(raw_bucket)
    raw = overlay.get(keys.object_key(m.bucket, m.key))
    if raw is None:
        raise errors.NoSuchKey()
    acl = access.check_canned_acl(m.acl)
    access.check_acl_allowed(bucket.ownership, bucket.public_access_block, acl)
    updated = replace(version_from_json(raw), acl="" if acl == "private" else acl)
    versions.rewrite(overlay, updated)  # the version record too, in a versioned bucket
    return updated
