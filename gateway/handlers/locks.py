"""Object Lock operations: Get/PutObjectLockConfiguration, Get/PutObjectRetention,
Get/PutObjectLegalHold (docs/object-lock.md).

The gateway parses and authorizes; the metadata state machine decides,
against its own clock, whether a retention may change (a COMPLIANCE one
never weakens; a GOVERNANCE one only with x-amz-bypass-governance-retention
from a requester holding s3:BypassGovernanceRetention).
"""

from __future__ import annotations

from aiohttp import web

from gateway import lock_xml
from gateway.authorization import authorized_bucket, lock_values, may_bypass_governance
from gateway.deadline import Deadline
from gateway.handlers.access import read_body
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import errors, object_lock
from tessera.model import ObjectVersion
from tessera.object_lock import Lock


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def get_object_lock_configuration(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    if not bucket.object_lock_enabled:
        raise errors.ObjectLockConfigurationNotFoundError(BucketName=route.bucket)
    rule = object_lock.config_from_json(bucket.object_lock)
    return xml_response(lock_xml.render_lock_configuration(rule))


async def put_object_lock_configuration(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    rule = lock_xml.parse_lock_configuration(await read_body(request))
    await state.metadata.set_bucket_access(
        route.bucket, "object_lock", object_lock.config_to_json(rule), timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def _version(
    request: web.Request, state: GatewayState, route: Route, access_key: str, deadline: Deadline
) -> ObjectVersion:
    check_key(route.key)
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    if not bucket.object_lock_enabled:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
    version_id = request.query.get("versionId", "")
    version = await state.metadata.get_object_version(
        route.bucket, route.key, version_id, timeout=deadline.remaining()
    )
    if version.delete_marker:
        raise errors.MethodNotAllowed("A delete marker has no Object Lock settings.")
    return version


async def get_object_retention(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    version = await _version(request, state, route, access_key, _deadline(state))
    if not version.lock_mode:
        raise errors.NoSuchObjectLockConfiguration()
    return xml_response(lock_xml.render_retention(version.lock))


async def get_object_legal_hold(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    version = await _version(request, state, route, access_key, _deadline(state))
    return xml_response(lock_xml.render_legal_hold(version.legal_hold))


async def put_object_retention(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    mode, retain_until = lock_xml.parse_retention(await read_body(request))
    values = lock_values(Lock(mode, retain_until))
    bucket = await authorized_bucket(
        request, state, route, access_key, deadline, extra_values=values
    )
    bypass = may_bypass_governance(request, bucket, access_key, route.operation, route.key)
    await state.metadata.set_object_lock(
        route.bucket,
        route.key,
        request.query.get("versionId", ""),
        timeout=deadline.remaining(),
        field="retention",
        mode=mode,
        retain_until=retain_until,
        bypass_governance=bypass,
    )
    return web.Response(status=200)


async def put_object_legal_hold(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    await authorized_bucket(request, state, route, access_key, deadline)
    on = lock_xml.parse_legal_hold(await read_body(request))
    await state.metadata.set_object_lock(
        route.bucket,
        route.key,
        request.query.get("versionId", ""),
        timeout=deadline.remaining(),
        field="legal_hold",
        legal_hold=on,
    )
    return web.Response(status=200)
