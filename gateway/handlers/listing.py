"""ListObjectsV2 and ListObjects (v1): prefix, delimiter ("folders are key
prefixes"), max-keys, continuation tokens, start-after and markers.

A continuation token is the opaque, URL-safe base64 of the key or common
prefix the previous page ended on; listing resumes strictly after it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from aiohttp import web

from gateway import s3xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from proto import tessera_pb2 as pb
from tessera import errors, limits
from tessera.storage_class import class_of


def encode_token(start_after: str) -> str:
    return base64.urlsafe_b64encode(start_after.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidArgument("The continuation token provided is incorrect") from exc


def parse_max_keys(request: web.Request) -> int:
    raw = request.query.get("max-keys")
    if raw is None:
        return limits.LIST_KEYS_MAX
    try:
        value = int(raw)
    except ValueError as exc:
        raise errors.InvalidArgument(
            "Provided max-keys not an integer or within integer range"
        ) from exc
    if value < 0:
        raise errors.InvalidArgument("Argument maxKeys must be an integer between 0 and 2147483647")
    return min(value, limits.LIST_KEYS_MAX)


def parse_encoding(request: web.Request) -> str | None:
    encoding = request.query.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request")
    return encoding


@dataclass(frozen=True, slots=True)
class _Page:
    """A page of current versions as the listing XML shows them."""

    entries: list[s3xml.EntryFields]
    common_prefixes: list[str]
    is_truncated: bool
    next_start_after: str


def _page_from_pb(m: pb.ListObjectsResponse) -> _Page:
    """The page straight from metadata's answer: its columns zipped into
    entries (docs/metadata.md, "Listing pages as columns"), or, from a replica
    that predates columns, one entry per record."""
    entries: list[s3xml.EntryFields]
    if m.objects:
        entries = [
            s3xml.ListEntry(
                r.key, r.last_modified, r.etag, r.size_bytes, class_of(r.system_metadata)
            )
            for r in m.objects
        ]
    else:
        c = m.columns
        entries = list(
            zip(c.keys, c.last_modified, c.etags, c.size_bytes, c.storage_classes, strict=True)
        )
    return _Page(
        entries=entries,
        common_prefixes=list(m.common_prefixes),
        is_truncated=m.is_truncated,
        next_start_after=m.next_start_after,
    )


async def _page(
    request: web.Request,
    state: GatewayState,
    route: Route,
    access_key: str,
    prefix: str,
    delimiter: str,
    start_after: str,
    max_keys: int,
) -> _Page:
    deadline = Deadline(state.settings.request_timeout_seconds)
    # a read, as GET and HEAD: the bucket may come from the bucket cache
    await authorized_bucket(request, state, route, access_key, deadline, cached=True)
    return await state.metadata.list_object_summaries(
        route.bucket,
        prefix,
        delimiter,
        start_after,
        max_keys,
        _page_from_pb,
        timeout=deadline.remaining(),
    )


async def list_objects_v2(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    q = request.query
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    max_keys = parse_max_keys(request)
    encoding = parse_encoding(request)
    token = q.get("continuation-token")
    start_after = q.get("start-after", "")
    resume = decode_token(token) if token is not None else start_after
    if resume < start_after:
        resume = start_after
    page = await _page(request, state, route, access_key, prefix, delimiter, resume, max_keys)
    body = s3xml.render_list_objects_v2(
        s3xml.ListV2Result(
            bucket=route.bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            is_truncated=page.is_truncated,
            entries=page.entries,
            common_prefixes=page.common_prefixes,
            continuation_token=token,
            next_continuation_token=encode_token(page.next_start_after)
            if page.is_truncated
            else None,
            start_after=start_after or None,
            encoding_type=encoding,
            owner_id=access_key if q.get("fetch-owner") == "true" else None,
        )
    )
    return xml_response(body)


async def list_objects_v1(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    q = request.query
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    marker = q.get("marker", "")
    max_keys = parse_max_keys(request)
    encoding = parse_encoding(request)
    page = await _page(request, state, route, access_key, prefix, delimiter, marker, max_keys)
    body = s3xml.render_list_objects_v1(
        s3xml.ListV1Result(
            bucket=route.bucket,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            max_keys=max_keys,
            is_truncated=page.is_truncated,
            entries=page.entries,
            common_prefixes=page.common_prefixes,
            next_marker=page.next_start_after if page.is_truncated and delimiter else None,
            encoding_type=encoding,
            owner_id=access_key,
        )
    )
    return xml_response(body)
