"""Versioning and tagging operations: Put/GetBucketVersioning,
ListObjectVersions, Put/Get/DeleteObjectTagging (docs/versioning.md).

A bucket's versioning status lives on its record; the metadata service
decides, when a write is applied, which S3 version id it gets and what it
replaces. Tags live on the version record.
"""

from __future__ import annotations

from aiohttp import web

from gateway import s3xml, s3xml_versions
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.handlers.listing import parse_encoding, parse_max_keys
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import errors

CONFIGURATION_BODY_MAX_BYTES = 64 * 1024


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def get_bucket_versioning(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    return xml_response(s3xml.render_versioning(status=bucket.versioning or None))


async def put_bucket_versioning(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    status = s3xml_versions.parse_versioning(
        await read_small_body(request, CONFIGURATION_BODY_MAX_BYTES)
    )
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.put_bucket_versioning(route.bucket, status, timeout=deadline.remaining())
    return web.Response(status=200)


async def list_object_versions(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    query = request.query
    encoding = parse_encoding(request)
    max_keys = parse_max_keys(request)
    key_marker = query.get("key-marker", "")
    version_id_marker = query.get("version-id-marker", "")
    if version_id_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker."
        )
    await authorized_bucket(request, state, route, access_key, deadline)
    page = await state.metadata.list_object_versions(
        route.bucket,
        query.get("prefix", ""),
        query.get("delimiter", ""),
        key_marker,
        version_id_marker,
        max_keys,
        timeout=deadline.remaining(),
    )
    body = s3xml_versions.render_list_versions(
        s3xml_versions.VersionsResult(
            bucket=route.bucket,
            prefix=query.get("prefix", ""),
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
            is_truncated=page.is_truncated,
            versions=page.versions,
            common_prefixes=page.common_prefixes,
            next_key_marker=page.next_key_marker,
            next_version_id_marker=page.next_version_id_marker,
            delimiter=query.get("delimiter"),
            encoding_type=encoding,
            owner_id=access_key,
        )
    )
    return xml_response(body)


def _version_headers(s3_version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": s3_version_id} if s3_version_id else {}


async def get_object_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    await authorized_bucket(request, state, route, access_key, deadline)
    version_id = request.query.get("versionId", "")
    if version_id:
        version = await state.metadata.get_object_version(
            route.bucket, route.key, version_id, timeout=deadline.remaining()
        )
        if version.delete_marker:
            raise errors.MethodNotAllowed()
    else:
        version = await state.metadata.get_object(
            route.bucket, route.key, timeout=deadline.remaining()
        )
    response = xml_response(s3xml_versions.render_tagging(version.tags))
    response.headers.update(_version_headers(version.s3_version_id))
    return response


async def put_object_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    tags = s3xml_versions.parse_tagging(
        await read_small_body(request, CONFIGURATION_BODY_MAX_BYTES)
    )
    return await _set_tags(request, state, route, access_key, tags, deadline, status=200)


async def delete_object_tagging(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    return await _set_tags(request, state, route, access_key, {}, deadline, status=204)


async def _set_tags(
    request: web.Request,
    state: GatewayState,
    route: Route,
    access_key: str,
    tags: dict[str, str],
    deadline: Deadline,
    *,
    status: int,
) -> web.StreamResponse:
    await authorized_bucket(request, state, route, access_key, deadline)
    version = await state.metadata.put_object_tagging(
        route.bucket,
        route.key,
        request.query.get("versionId", ""),
        tags,
        timeout=deadline.remaining(),
    )
    return web.Response(status=status, headers=_version_headers(version.s3_version_id))
