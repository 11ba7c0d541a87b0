"""Access sub-resources: Get/PutBucketAcl, Get/Put/DeleteBucketPolicy,
Get/Put/DeleteBucketCors, Get/PutObjectAcl, Get/Put/DeleteBucketOwnershipControls,
Get/Put/DeletePublicAccessBlock (docs/access.md).

Each is authorized as its S3 action (gateway/authorization.py): the owner,
or whom the bucket policy grants it; the policy, ownership controls and
PublicAccessBlock only ever by the owner. ACLs are canned (private,
public-read), set by x-amz-acl or an equivalent AccessControlPolicy body;
policies are parsed (tessera/policy.py) before storing, and the metadata
state machine checks them again against the bucket's PublicAccessBlock.
"""

from __future__ import annotations

from aiohttp import web

from gateway import access_xml, lock_xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import access, errors, policy

ACCESS_BODY_MAX_BYTES = 64 * 1024


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def read_body(request: web.Request) -> bytes:
    if request.content_length and request.content_length > ACCESS_BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    raw = await request.content.read(ACCESS_BODY_MAX_BYTES + 1)
    if len(raw) > ACCESS_BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    return raw


async def requested_acl(request: web.Request) -> str:
    """The canned ACL of x-amz-acl or of an AccessControlPolicy body."""
    if "x-amz-acl" in request.headers:
        return access.check_canned_acl(request.headers["x-amz-acl"])
    body = await read_body(request)
    if not body.strip():
        raise errors.MissingSecurityHeader("Your request was missing a required header.")
    return access_xml.parse_acl(body)


async def get_bucket_acl(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    return xml_response(access_xml.render_acl(bucket.owner, bucket.acl))


async def put_bucket_acl(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    acl = await requested_acl(request)
    await state.metadata.set_bucket_access(route.bucket, "acl", acl, timeout=deadline.remaining())
    return web.Response(status=200)


async def get_bucket_policy(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.policy:
        raise errors.NoSuchBucketPolicy(BucketName=route.bucket)
    return web.Response(body=bucket.policy.encode(), content_type="application/json")


async def put_bucket_policy(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    try:
        text = (await read_body(request)).decode()
    except UnicodeDecodeError as exc:
        raise errors.MalformedPolicy() from exc
    policy.parse_policy(text, route.bucket)
    await state.metadata.set_bucket_access(
        route.bucket, "policy", text, timeout=deadline.remaining()
    )
    return web.Response(status=204)


async def delete_bucket_policy(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(route.bucket, "policy", "", timeout=deadline.remaining())
    return web.Response(status=204)


async def get_bucket_cors(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.cors:
        raise errors.NoSuchCORSConfiguration(BucketName=route.bucket)
    return xml_response(access_xml.render_cors(access.cors_from_json(bucket.cors)))


async def put_bucket_cors(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    rules = access_xml.parse_cors(await read_body(request))
    access.check_cors_rules(rules)
    await state.metadata.set_bucket_access(
        route.bucket, "cors", access.cors_to_json(rules), timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def delete_bucket_cors(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(route.bucket, "cors", "", timeout=deadline.remaining())
    return web.Response(status=204)


async def get_object_acl(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    version = await state.metadata.get_object(route.bucket, route.key, timeout=deadline.remaining())
    return xml_response(access_xml.render_acl(bucket.owner, version.acl or "private"))


async def put_object_acl(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    await authorized_bucket(request, state, route, access_key, deadline)
    acl = await requested_acl(request)
    await state.metadata.set_object_acl(route.bucket, route.key, acl, timeout=deadline.remaining())
    return web.Response(status=200)


async def get_bucket_ownership_controls(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.ownership:
        raise errors.OwnershipControlsNotFoundError(BucketName=route.bucket)
    return xml_response(lock_xml.render_ownership(bucket.ownership))


async def put_bucket_ownership_controls(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    rule = lock_xml.parse_ownership(await read_body(request))
    await state.metadata.set_bucket_access(
        route.bucket, "ownership", rule, timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def delete_bucket_ownership_controls(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(
        route.bucket, "ownership", "", timeout=deadline.remaining()
    )
    return web.Response(status=204)


async def get_public_access_block(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.public_access_block:
        raise errors.NoSuchPublicAccessBlockConfiguration(BucketName=route.bucket)
    block = access.public_access_block(bucket.public_access_block)
    return xml_response(lock_xml.render_public_access_block(block))


async def put_public_access_block(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    block = lock_xml.parse_public_access_block(await read_body(request))
    await state.metadata.set_bucket_access(
        route.bucket, "public_access_block", block.to_json(), timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def delete_public_access_block(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(
        route.bucket, "public_access_block", "", timeout=deadline.remaining()
    )
    return web.Response(status=204)
