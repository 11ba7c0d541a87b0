"""Object operations: PutObject, GetObject, HeadObject, DeleteObject.

PUT streams the body through the write pipeline and answers only after the
version is committed. GET and HEAD honour Range and the conditional headers
(If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) as S3 does,
and stream the data stripe by stripe.
"""

from __future__ import annotations

import base64
import binascii
import logging

from aiohttp import web

from gateway import conditions, metrics
from gateway.admission import read_buffer_bytes, write_buffer_bytes
from gateway.auth.chunk_signing import ChunkSigner
from gateway.auth.sigv4 import AuthResult, PayloadMode
from gateway.auth_edge import AUTH_RESULT
from gateway.body import BodySource, PlainBody
from gateway.chunked_body import AwsChunkedBody
from gateway.deadline import Deadline
from gateway.handlers.buckets import owned_bucket
from gateway.handlers.copy import copy_object
from gateway.read_path import read_stripes
from gateway.responses import object_headers, quoted_etag
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.validation import check_key, check_user_metadata
from gateway.write_path import SENDER_QUEUE_CHUNKS, WriteRequest, write_object
from tessera import errors, limits
from tessera.checksum import CHECKSUM_ALGORITHMS
from tessera.geometry import InvalidRange, StripeSpan, parse_range, span_for_range
from tessera.model import ObjectVersion

# Headers stored with a version and returned on GET/HEAD as they were sent.
STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)

log = logging.getLogger(__name__)


def _content_md5(request: web.Request) -> bytes | None:
    raw = request.headers.get("Content-MD5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidDigest() from exc
    if len(digest) != 16:
        raise errors.InvalidDigest()
    return digest


def _checksums(request: web.Request) -> dict[str, str | None]:
    """Additional checksums the client sent (value) or announced for its
    trailer (None)."""
    found: dict[str, str | None] = {}
    for algorithm in CHECKSUM_ALGORITHMS:
        value = request.headers.get(f"x-amz-checksum-{algorithm}")
        if value is not None:
            found[algorithm] = value
    for name in request.headers.get("x-amz-trailer", "").split(","):
        name = name.strip().lower()
        if not name:
            continue
        algorithm = name.removeprefix("x-amz-checksum-")
        if algorithm not in CHECKSUM_ALGORITHMS or algorithm == name:
            raise errors.InvalidRequest(f"The trailer {name} is not supported.")
        found[algorithm] = None
    return found


def _body(request: web.Request, auth: AuthResult) -> BodySource:
    """The object bytes of a PUT, whatever the framing, with their size."""
    mode = auth.payload_mode
    if mode.startswith("STREAMING-"):
        decoded = request.headers.get("x-amz-decoded-content-length")
        if decoded is None or not decoded.isdigit():
            raise errors.MissingContentLength(
                "x-amz-decoded-content-length is required for aws-chunked uploads."
            )
        signed = mode in (PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER)
        signer = (
            ChunkSigner(auth.signing_key, auth.amz_date, auth.scope, auth.seed_signature)
            if signed
            else None
        )
        return AwsChunkedBody(
            request.content, int(decoded), signer=signer, expect_trailer=mode.endswith("TRAILER")
        )
    size = request.content_length
    if size is None:
        raise errors.MissingContentLength()
    return PlainBody(request.content, size)


def _stored_headers(request: web.Request) -> dict[str, str]:
    stored = {h: request.headers[h] for h in STORED_HEADERS if h in request.headers}
    encodings = [
        e.strip()
        for e in stored.pop("content-encoding", "").split(",")
        if e.strip() and e.strip() != "aws-chunked"
    ]
    if encodings:
        stored["content-encoding"] = ",".join(encodings)
    return stored


def _user_metadata(request: web.Request) -> dict[str, str]:
    meta = {
        name.lower()[len("x-amz-meta-") :]: value
        for name, value in request.headers.items()
        if name.lower().startswith("x-amz-meta-")
    }
    check_user_metadata(meta)
    return meta


async def put_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    check_key(route.key)
    if "x-amz-copy-source" in request.headers:
        user_metadata = _user_metadata(request)
        return await copy_object(
            request, state, route, access_key, _stored_headers(request), user_metadata
        )
    auth = request[AUTH_RESULT]
    body = _body(request, auth)
    if body.size_bytes > limits.SINGLE_PUT_SIZE_MAX_BYTES:
        raise errors.EntityTooLarge()
    checksums = _checksums(request)
    write = WriteRequest(
        bucket=route.bucket,
        key=route.key,
        content_type=request.headers.get("Content-Type", "binary/octet-stream"),
        user_metadata=_user_metadata(request),
        system_metadata=_stored_headers(request),
        content_md5=_content_md5(request),
        payload_sha256=auth.expected_payload_sha256,
        checksums=checksums,
    )
    await owned_bucket(state, route.bucket, access_key, deadline)
    geometry = state.policy.geometry
    with state.admission.reserve(write_buffer_bytes(geometry, SENDER_QUEUE_CHUNKS)):
        version, replaced = await write_object(
            body=body,
            request=write,
            policy=state.policy,
            cluster=state.cluster,
            metadata=state.metadata,
            executor=state.executor,
            deadline=deadline,
        )
    state.reclaimer.unreferenced(replaced)
    metrics.BYTES_IN.inc(body.size_bytes)
    headers = {"ETag": quoted_etag(version)}
    headers.update(
        {k: v for k, v in version.system_metadata.items() if k.startswith("x-amz-checksum-")}
    )
    return web.Response(status=200, headers=headers)


async def _read_version(
    request: web.Request, state: GatewayState, route: Route, access_key: str, deadline: Deadline
) -> ObjectVersion:
    check_key(route.key)
    await owned_bucket(state, route.bucket, access_key, deadline)
    return await state.metadata.get_object(route.bucket, route.key, timeout=deadline.remaining())


def _response_headers(request: web.Request, version: ObjectVersion, ranged: bool) -> dict[str, str]:
    headers = object_headers(version)
    # Checksums are returned when asked for, and never for a range: a
    # whole-object checksum does not describe a part of it.
    wanted = request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    if ranged or not wanted:
        headers = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
    overrides = {
        "response-content-type": "Content-Type",
        "response-content-language": "Content-Language",
        "response-expires": "Expires",
        "response-cache-control": "Cache-Control",
        "response-content-disposition": "Content-Disposition",
        "response-content-encoding": "Content-Encoding",
    }
    for param, header in overrides.items():
        if param in request.query:
            headers[header] = request.query[param]
    return headers


async def _answer(
    request: web.Request, state: GatewayState, route: Route, access_key: str, *, body: bool
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    version = await _read_version(request, state, route, access_key, deadline)
    status = conditions.evaluate(request.headers, version)
    if status == 412:
        raise errors.PreconditionFailed(Condition="If-Match")
    if status == 304:
        return web.Response(
            status=304,
            headers={
                "ETag": quoted_etag(version),
                "Last-Modified": object_headers(version)["Last-Modified"],
            },
        )
    size = version.size_bytes
    first, last = 0, size - 1
    ranged = False
    range_header = request.headers.get("Range")
    if range_header is not None:
        try:
            parsed = parse_range(range_header, size)
        except InvalidRange as exc:
            raise errors.InvalidRange(
                ActualObjectSize=str(size), RangeRequested=range_header
            ) from exc
        if parsed is not None:
            first, last = parsed
            ranged = True
    headers = _response_headers(request, version, ranged)
    length = last - first + 1 if size else 0
    if ranged:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    response = web.StreamResponse(status=206 if ranged else 200, headers=headers)
    response.content_length = length
    if not body or length == 0:
        await response.prepare(request)
        await response.write_eof()
        return response
    span = span_for_range(version.geometry, first, last)
    with state.admission.reserve(read_buffer_bytes(version.geometry)):
        await _stream_body(request, response, state, version, span, deadline)
    return response


async def _stream_body(
    request: web.Request,
    response: web.StreamResponse,
    state: GatewayState,
    version: ObjectVersion,
    span: StripeSpan,
    deadline: Deadline,
) -> None:
    stripes = read_stripes(
        cluster=state.cluster,
        version=version,
        span=span,
        executor=state.executor,
        deadline=deadline,
    )
    try:
        skip = span.skip_bytes
        left = span.length_bytes
        first = await anext(stripes)  # errors before the headers go out get an S3 answer
        await response.prepare(request)
        try:
            data: bytes | None = first
            while data is not None and left > 0:
                piece = data[skip : skip + left] if (skip or len(data) - skip > left) else data
                skip = 0
                left -= len(piece)
                await response.write(piece)
                metrics.BYTES_OUT.inc(len(piece))
                data = await anext(stripes, None) if left > 0 else None
            await response.write_eof()
        except (errors.TesseraError, ConnectionError) as exc:
            # The status line is gone: all that is left is to cut the
            # connection, so the client sees a short body, never wrong bytes.
            log.warning("%s/%s: body cut after headers: %s", version.bucket, version.key, exc)
            if request.transport is not None:
                request.transport.close()
    finally:
        await stripes.aclose()


async def get_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    return await _answer(request, state, route, access_key, body=True)


async def head_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    return await _answer(request, state, route, access_key, body=False)


async def delete_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    check_key(route.key)
    await owned_bucket(state, route.bucket, access_key, deadline)
    deleted = await state.metadata.delete_object(
        route.bucket, route.key, timeout=deadline.remaining()
    )
    state.reclaimer.unreferenced(deleted)
    return web.Response(status=204)
