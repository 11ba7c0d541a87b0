"""ACL sub-resources: Get/PutBucketAcl and Get/PutObjectAcl (docs/access.md).
The bucket policy, CORS, ownership controls and PublicAccessBlock are bucket
settings (gateway/handlers/bucket_settings.py).

Each is authorized as its S3 action (gateway/authorization.py): the owner,
or whom the bucket policy grants it; the policy, ownership controls and
PublicAccessBlock only ever by the owner. ACLs are canned (private,
public-read), set by x-amz-acl or an equivalent AccessControlPolicy body;
policies are parsed (tessera/policy.py) before storing, and the metadata
state machine checks them again against the bucket's PublicAccessBlock.
"""

from __future__ import annotations

from aiohttp import web

from gateway import access_xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import access, errors

ACCESS_BODY_MAX_BYTES = 64 * 1024


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def read_body(request: web.Request) -> bytes:
    """A small access or Object Lock document (gateway/small_body.py)."""
    return await read_small_body(request, ACCESS_BODY_MAX_BYTES)


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
