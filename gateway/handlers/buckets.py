"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
and GetBucketLocation (versioning: gateway/handlers/versions.py).

Every bucket has an owner: the user whose key created it (all that user's
keys share it; the root key owns as itself — tessera/access.py owner_id).
Others may act on it only as its policy or ACLs grant
(gateway/authorization.py); handlers receive the requester's owner id ("" for
anonymous). CreateBucket with x-amz-bucket-object-lock-enabled: true makes a
bucket with Object Lock, versioning on for good (docs/object-lock.md).
"""

from __future__ import annotations

from aiohttp import web

from gateway import s3xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from gateway.validation import check_bucket_name
from tessera import access, errors
from tessera.model import BucketInfo

CREATE_BUCKET_BODY_MAX_BYTES = 64 * 1024
OBJECT_LOCK_ENABLED_HEADER = "x-amz-bucket-object-lock-enabled"


async def owned_bucket(
    state: GatewayState, name: str, access_key: str, deadline: Deadline
) -> BucketInfo:
    """The bucket, if it exists and the owner id access_key owns it (the
    console's check: it acts only on the signed-in user's own buckets; S3
    requests go through gateway/authorization.py)."""
    if not access_key:
        raise errors.AccessDenied("Anonymous access is not granted to this resource.")
    bucket = await state.metadata.get_bucket(name, timeout=deadline.remaining())
    if bucket.owner != access_key:
        raise errors.AccessDenied()
    return bucket


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def list_buckets(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    if not access_key:  # "" would list every bucket
        raise errors.AccessDenied("Anonymous access is not granted to this resource.")
    found = await state.metadata.list_buckets(access_key, timeout=_deadline(state).remaining())
    body = s3xml.render_list_buckets(
        owner_id=access_key,
        owner_name=access_key,
        buckets=[(b.name, b.created_at) for b in found],
    )
    return xml_response(body)


async def create_bucket(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    check_bucket_name(route.bucket)
    if not access_key:
        raise errors.AccessDenied("Anonymous access is not granted to this resource.")
    lock_header = request.headers.get(OBJECT_LOCK_ENABLED_HEADER, "false").lower()
    if lock_header not in ("true", "false"):
        raise errors.InvalidArgument(f"{OBJECT_LOCK_ENABLED_HEADER} is true or false.")
    raw = await read_small_body(request, CREATE_BUCKET_BODY_MAX_BYTES)
    if raw.strip():
        s3xml.parse_create_bucket_configuration(raw)
    acl = access.check_canned_acl(request.headers.get("x-amz-acl", ""))
    await state.metadata.create_bucket(
        route.bucket,
        access_key,
        timeout=_deadline(state).remaining(),
        acl=acl,
        object_lock=lock_header == "true",
    )
    return web.Response(status=200, headers={"Location": f"/{route.bucket}"})


async def head_bucket(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    await authorized_bucket(request, state, route, access_key, _deadline(state))
    return web.Response(status=200, headers={"x-amz-bucket-region": state.settings.region})


async def delete_bucket(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.delete_bucket(route.bucket, timeout=deadline.remaining())
    return web.Response(status=204)


async def get_bucket_location(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    await authorized_bucket(request, state, route, access_key, _deadline(state))
    region = state.settings.region
    return xml_response(s3xml.render_location("" if region == "us-east-1" else region))
