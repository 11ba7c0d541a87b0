"""The bucket browser's server side: buckets, folders (prefix + '/'), one
object's details, and the pre-signed URLs the page uploads and downloads with.

Every function acts as the signed-in access key, whose user owns buckets: a
bucket that user does not own is AccessDenied, as on the S3 endpoint. Secrets
are looked up only to sign and never leave this module except as a signature
inside a URL.

The public/private switch is a bucket policy granting anyone s3:GetObject on
every object (docs/access.md); a bucket whose PublicAccessBlock has
BlockPublicPolicy refuses it (AccessDenied, decided by metadata), and with
RestrictPublicBuckets it is reported as not public. A key's version history
comes from ListObjectVersions (docs/versioning.md); any version can be downloaded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from gateway.auth.presign import presign
from gateway.console.panels import NotAvailable
from gateway.deadline import Deadline
from gateway.handlers.buckets import owned_bucket
from gateway.state import GatewayState
from gateway.validation import check_bucket_name, check_key
from tessera import access, errors, limits, policy
from tessera.model import NODE_UP, BucketInfo, ObjectVersion, ShardSet, VersionSummary
from tessera.storage_class import class_of

DELIMITER = "/"


def _deadline() -> Deadline:
    return Deadline(limits.METADATA_CALL_TIMEOUT_SECONDS)


def _access_of(bucket: BucketInfo) -> dict[str, Any]:
    """public: the bucket policy lets anyone read every object (docs/access.md)."""
    restricted = access.public_access_block(bucket.public_access_block).restrict_public_buckets
    return {
        "public": policy.grants_whole_bucket(bucket.policy, bucket.name) and not restricted,
        "has_policy": bool(bucket.policy),
    }


async def bucket_access(state: GatewayState, bucket: str) -> dict[str, Any]:
    """Whether anonymous reads of every object are allowed."""
    found = await state.metadata.get_bucket(bucket, timeout=_deadline().remaining())
    return _access_of(found)


async def set_bucket_access(state: GatewayState, bucket: str, public: bool) -> dict[str, Any]:
    """Public: a bucket policy granting anyone s3:GetObject on every object.
    Private: no bucket policy (objects with a public-read ACL stay readable)."""
    text = policy.whole_bucket_policy(bucket) if public else ""
    updated = await state.metadata.set_bucket_access(
        bucket, "policy", text, timeout=_deadline().remaining()
    )
    return _access_of(updated)


async def object_versions(state: GatewayState, bucket: str, key: str) -> dict[str, Any]:
    """A key's version history, newest first (delete markers included), at most
    CONSOLE_VERSIONS_MAX of them, and the bucket's versioning status."""
    deadline = _deadline()
    found = await state.metadata.get_bucket(bucket, timeout=deadline.remaining())
    rows: list[dict[str, Any]] = []
    key_marker = version_marker = ""
    while len(rows) < limits.CONSOLE_VERSIONS_MAX:
        page = await state.metadata.list_object_versions(
            bucket,
            key,
            "",
            key_marker,
            version_marker,
            limits.CONSOLE_VERSIONS_MAX,
            timeout=deadline.remaining(),
        )
        rows.extend(_version_row(v, latest) for v, latest in page.versions if v.key == key)
        past_key = any(v.key != key for v, _ in page.versions)
        if past_key or not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    return {
        "versioning": found.versioning or "Disabled",
        "versions": rows[: limits.CONSOLE_VERSIONS_MAX],
        "is_truncated": len(rows) > limits.CONSOLE_VERSIONS_MAX,
    }


def _version_row(version: VersionSummary, latest: bool) -> dict[str, Any]:
    return {
        "version_id": version.s3_version_id or "null",
        "is_latest": latest,
        "delete_marker": version.delete_marker,
        "size_bytes": version.size_bytes,
        "etag": version.etag,
        "last_modified": version.last_modified,
    }


async def _optional(fn: Any, *args: Any) -> dict[str, Any]:
    """{"available": true, ...} or {"available": false, "reason": ...}."""
    try:
        return {"available": True, **(await fn(*args))}
    except NotAvailable as exc:
        return {"available": False, "reason": exc.reason, **exc.details}


async def get_access(state: GatewayState, access_key: str, bucket: str) -> dict[str, Any]:
    await owned_bucket(state, bucket, _owner(state, access_key), _deadline())
    return await _optional(bucket_access, state, bucket)


async def change_access(
    state: GatewayState, access_key: str, bucket: str, public: bool
) -> dict[str, Any]:
    await owned_bucket(state, bucket, _owner(state, access_key), _deadline())
    return await _optional(set_bucket_access, state, bucket, public)


async def versions_of(
    state: GatewayState, access_key: str, bucket: str, key: str
) -> dict[str, Any]:
    check_key(key)
    await owned_bucket(state, bucket, _owner(state, access_key), _deadline())
    return await _optional(object_versions, state, bucket, key)


async def list_buckets(state: GatewayState, access_key: str) -> dict[str, Any]:
    found = await state.metadata.list_buckets(
        _owner(state, access_key), timeout=_deadline().remaining()
    )
    return {
        "buckets": [
            {
                "name": b.name,
                "created_at": b.created_at,
                "access": {"available": True, **_access_of(b)},
            }
            for b in found
        ]
    }


async def create_bucket(state: GatewayState, access_key: str, name: str) -> dict[str, Any]:
    check_bucket_name(name)
    bucket = await state.metadata.create_bucket(
        name, _owner(state, access_key), timeout=_deadline().remaining()
    )
    return {"name": bucket.name, "created_at": bucket.created_at}


def _object_row(version: ObjectVersion) -> dict[str, Any]:
    return {
        "key": version.key,
        "size_bytes": version.size_bytes,
        "etag": version.etag,
        "content_type": version.content_type,
        "last_modified": version.last_modified,
    }


async def list_folder(
    state: GatewayState, access_key: str, bucket: str, prefix: str, start_after: str
) -> dict[str, Any]:
    """One page of a 'folder': the keys and sub-folders directly under prefix."""
    deadline = _deadline()
    await owned_bucket(state, bucket, _owner(state, access_key), deadline)
    page = await state.metadata.list_objects(
        bucket,
        prefix,
        DELIMITER,
        start_after,
        limits.CONSOLE_LIST_PAGE_KEYS,
        timeout=deadline.remaining(),
    )
    return {
        "bucket": bucket,
        "prefix": prefix,
        "folders": list(page.common_prefixes),
        "objects": [_object_row(v) for v in page.objects],
        "is_truncated": page.is_truncated,
        "next_start_after": page.next_start_after,
    }


def shard_margin(version: ObjectVersion, state: GatewayState) -> dict[str, Any]:
    """Where the object's shards are and how many can still be lost (its margin):
    shards on nodes that are up, minus the data shards needed to read it. A
    multipart object is as safe as its weakest segment: that one is shown."""
    worst: dict[str, Any] | None = None
    shard_sets = version.shard_sets()
    for shard_set in shard_sets:
        found = _shard_set_margin(shard_set, state)
        if worst is None or found["margin"] < worst["margin"]:
            worst = found
    if worst is None:
        return {"inline": True, "shards": []}
    return {**worst, "segments": len(version.segments)}


def _shard_set_margin(shard_set: ShardSet, state: GatewayState) -> dict[str, Any]:
    geometry = shard_set.geometry
    shards = []
    for location in sorted(shard_set.placement, key=lambda p: p.shard_index):
        node = state.cluster.map.node(location.node_id)
        shards.append(
            {
                "shard_index": location.shard_index,
                "kind": "data" if location.shard_index < geometry.data_shards else "parity",
                "node_id": location.node_id,
                "zone": node.zone if node else None,
                "node_state": node.state if node else "unknown",
            }
        )
    reachable = sum(1 for s in shards if s["node_state"] == NODE_UP)
    return {
        "inline": False,
        "shards": shards,
        "shards_total": geometry.total_shards,
        "shards_on_up_nodes": reachable,
        "margin": reachable - geometry.data_shards,
        "margin_full": geometry.parity_shards,
    }


async def object_details(
    state: GatewayState, access_key: str, bucket: str, key: str
) -> dict[str, Any]:
    deadline = _deadline()
    await owned_bucket(state, bucket, _owner(state, access_key), deadline)
    version = await state.metadata.get_object(bucket, key, timeout=deadline.remaining())
    return {
        **_object_row(version),
        "bucket": bucket,
        "version_id": version.version_id,
        "storage_class": class_of(version.system_metadata),
        "geometry": {
            "data_shards": version.data_shards,
            "parity_shards": version.parity_shards,
            "chunk_size_bytes": version.chunk_size_bytes,
        },
        "user_metadata": version.user_metadata,
        "placement": shard_margin(version, state),
        "versions": await _optional(object_versions, state, bucket, key),
    }


_ORIGIN = re.compile(r"https?://[^/\s?#]+")


def _owner(state: GatewayState, access_key: str) -> str:
    """The signed-in key's bucket owner id (its user's; the root key's own id)."""
    principal = state.keys.cached(access_key)
    if principal is None:  # the key was removed after sign-in
        raise errors.InvalidAccessKeyId()
    return principal.owner


def _secret(state: GatewayState, access_key: str) -> str:
    secret = state.secret_for(access_key)
    if secret is None:  # the key was removed after sign-in
        raise errors.InvalidAccessKeyId()
    return secret


async def upload_url(
    state: GatewayState,
    access_key: str,
    *,
    bucket: str,
    key: str,
    endpoint: str,
    origin: str,
) -> dict[str, Any]:
    """A pre-signed PUT for bucket/key, usable only from the page's origin."""
    check_key(key)
    if not _ORIGIN.fullmatch(origin):
        raise errors.InvalidArgument("The console's origin is not a usable http(s) origin.")
    await owned_bucket(state, bucket, _owner(state, access_key), _deadline())
    expires = limits.CONSOLE_UPLOAD_URL_SECONDS
    url = presign(
        method="PUT",
        endpoint=endpoint,
        bucket=bucket,
        key=key,
        access_key=access_key,
        secret_key=_secret(state, access_key),
        region=state.settings.region,
        now=datetime.now(UTC),
        expires_seconds=expires,
        signed_headers={"origin": origin},
    )
    return {"url": url, "method": "PUT", "expires_seconds": expires}


def content_disposition(key: str) -> str:
    """attachment with the key's last segment as the file name (RFC 6266)."""
    name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def download_url(
    state: GatewayState,
    access_key: str,
    *,
    bucket: str,
    key: str,
    endpoint: str,
    expires_seconds: int,
    attachment: bool,
    version_id: str = "",
) -> dict[str, Any]:
    """A pre-signed GET for bucket/key (of one version, when version_id is
    given): a download (attachment) or a link to share."""
    check_key(key)
    if not 1 <= expires_seconds <= 7 * 24 * 3600:
        raise errors.InvalidArgument("A link is valid for 1 second to 7 days.")
    deadline = _deadline()
    await owned_bucket(state, bucket, _owner(state, access_key), deadline)
    query = [("response-content-disposition", content_disposition(key))] if attachment else []
    if version_id:  # NoSuchVersion early; a delete marker has nothing to download
        version = await state.metadata.get_object_version(
            bucket, key, version_id, timeout=deadline.remaining()
        )
        if version.delete_marker:
            raise errors.MethodNotAllowed("A delete marker has no content to download.")
        query.append(("versionId", version_id))
    else:
        await state.metadata.get_object(bucket, key, timeout=deadline.remaining())  # NoSuchKey
    url = presign(
        method="GET",
        endpoint=endpoint,
        bucket=bucket,
        key=key,
        access_key=access_key,
        secret_key=_secret(state, access_key),
        region=state.settings.region,
        now=datetime.now(UTC),
        expires_seconds=expires_seconds,
        query=query,
    )
    return {"url": url, "method": "GET", "expires_seconds": expires_seconds}
