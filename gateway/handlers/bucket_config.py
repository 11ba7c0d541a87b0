"""Bucket configuration sub-resources: Get/Put/DeleteBucketLifecycleConfiguration
(?lifecycle; docs/lifecycle.md) and Get/Put/DeleteBucketTagging (?tagging).

Only the bucket's owner reads or changes them. Both are stored as JSON
fields of the bucket record (SetBucketAccess "lifecycle" / "tags"), checked
here and again when the mutation is applied. A body's Content-MD5 or
x-amz-checksum-* is verified when sent.
"""

from __future__ import annotations

import json

from aiohttp import web

from gateway import lifecycle_xml, s3xml_versions
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.handlers.delete_many import check_integrity
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from tessera import errors, lifecycle, limits

CONFIG_BODY_MAX_BYTES = 512 * 1024  # 1,000 rules fit


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def _body(request: web.Request) -> bytes:
    if request.content_length and request.content_length > CONFIG_BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    raw = await request.content.read(CONFIG_BODY_MAX_BYTES + 1)
    if len(raw) > CONFIG_BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    check_integrity(request, raw, required=False)
    return raw


async def get_bucket_lifecycle(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.lifecycle:
        raise errors.NoSuchLifecycleConfiguration(BucketName=route.bucket)
    return xml_response(lifecycle_xml.render_lifecycle(lifecycle.rules_from_json(bucket.lifecycle)))


async def put_bucket_lifecycle(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    rules = lifecycle_xml.parse_lifecycle(await _body(request))
    lifecycle.check_rules(rules)
    await state.metadata.set_bucket_access(
        route.bucket, "lifecycle", lifecycle.rules_to_json(rules), timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def delete_bucket_lifecycle(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(
        route.bucket, "lifecycle", "", timeout=deadline.remaining()
    )
    return web.Response(status=204)


async def get_bucket_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.tags:
        raise errors.NoSuchTagSet(BucketName=route.bucket)
    return xml_response(s3xml_versions.render_tagging(json.loads(bucket.tags)))


async def put_bucket_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    tags = s3xml_versions.parse_tagging(await _body(request), limits.TAGS_PER_BUCKET_MAX)
    # An empty TagSet removes the tags, as S3 does.
    value = json.dumps(tags, sort_keys=True) if tags else ""
    await state.metadata.set_bucket_access(
        route.bucket, "tags", value, timeout=deadline.remaining()
    )
    return web.Response(status=204)


async def delete_bucket_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(route.bucket, "tags", "", timeout=deadline.remaining())
    return web.Response(status=204)
