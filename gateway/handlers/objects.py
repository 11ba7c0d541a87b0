"""Object operations: PutObject, GetObject, HeadObject, DeleteObject.

Versioning (docs/versioning.md): ?versionId= selects a version for GET, HEAD
and DELETE; a delete marker answers GET/HEAD with NoSuchKey (newest) or 405
MethodNotAllowed (by id), with x-amz-delete-marker: true. Only versions the
metadata service reports removed are reclaimed, so a noncurrent version keeps
its shards.

GET and HEAD read a multipart object segment after segment, and take
?partNumber=N to read one part (x-amz-mp-parts-count tells how many).

PUT streams the body through the write pipeline and answers only after the
version is committed. Encryption at rest (gateway/sse.py): a PUT asks for it
by header or gets the bucket default; GET and HEAD of an SSE-C object need
the customer key. GET and HEAD honour Range and the conditional headers
(If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) as S3 does,
and stream the data stripe by stripe.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from gateway import conditions, cors, metrics, sse
from gateway.admission import read_buffer_bytes, write_buffer_bytes
from gateway.auth_edge import AUTH_RESULT
from gateway.authorization import (
    allowed,
    anyone_may_read,
    authorized_bucket,
    may_bypass_governance,
)
from gateway.deadline import Deadline
from gateway.handlers.copy import copy_object
from gateway.handlers.multipart import part_number_of
from gateway.object_lock_headers import check_lock_permissions, requested_lock
from gateway.prefetch import Prefetch
from gateway.put_inputs import (
    announced_checksums,
    content_md5,
    request_body,
    stored_headers,
    user_metadata,
)
from gateway.read_path import read_range
from gateway.responses import (
    http_date,
    object_headers,
    quoted_etag,
    written_version_headers,
)
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.usage_meter import add_bytes_in, add_bytes_out
from gateway.validation import check_key
from gateway.write_path import (
    BUCKET_RECHECKS_MAX,
    WriteRequest,
    write_object,
)
from proto.wire import Buffer
from tessera import access, caching, errors, limits, tagging
from tessera.geometry import InvalidRange, parse_range
from tessera.model import BucketInfo, ObjectVersion, bucket_fingerprint
from tessera.multipart import part_range
from tessera.storage_class import requested_class

log = logging.getLogger(__name__)


async def put_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    check_key(route.key)
    if "x-amz-copy-source" in request.headers:
        return await copy_object(
            request, state, route, access_key, stored_headers(request), user_metadata(request)
        )
    auth = request[AUTH_RESULT]
    body = request_body(request, auth)
    if body.size_bytes > limits.SINGLE_PUT_SIZE_MAX_BYTES:
        raise errors.EntityTooLarge()
    checksums = announced_checksums(request)
    sse.requested(request.headers, None)  # bad encryption headers: S3's error before anything
    policy = state.policy_for(
        requested_class(request.headers.get("x-amz-storage-class"), state.class_policies)
    )
    write = WriteRequest(
        bucket=route.bucket,
        key=route.key,
        content_type=request.headers.get("Content-Type", "binary/octet-stream"),
        user_metadata=user_metadata(request),
        system_metadata=stored_headers(request),
        content_md5=content_md5(request),
        payload_sha256=auth.expected_payload_sha256,
        checksums=checksums,
        tags=tagging.parse_header(request.headers.get("x-amz-tagging", "")),
        **write_conditions(request),
        acl=access.stored_object_acl(request.headers.get("x-amz-acl", "")),
        lock=requested_lock(request),
    )
    # The bucket from the cache: the commit checks that its record did not
    # change since (if it did, recheck decides again on a fresh read).
    bucket = await authorized_bucket(request, state, route, access_key, deadline, cached=True)
    check_lock_permissions(request, bucket, access_key, route, write.lock)
    encryption = sse.requested(request.headers, bucket)
    write = await state.encryption.sealed(write, encryption, deadline)

    async def recheck() -> BucketInfo:
        fresh = await authorized_bucket(request, state, route, access_key, deadline)
        check_lock_permissions(request, fresh, access_key, route, write.lock)
        if sse.requested(request.headers, fresh) != encryption:
            raise errors.ServiceUnavailable(
                "The bucket's default encryption changed during the request. Please try again."
            )
        return fresh

    with state.admission.reserve(write_buffer_bytes(policy.geometry, body.size_bytes)):
        version, replaced = await write_object(
            body=body,
            request=write,
            policy=policy,
            cluster=state.cluster,
            metadata=state.metadata,
            executor=state.executor,
            deadline=deadline,
            reclaimer=state.reclaimer,
            bucket=bucket,
            recheck=recheck,
        )
    state.reclaimer.unreferenced(replaced)
    state.version_hints.remember(version)
    metrics.BYTES_IN.inc(body.size_bytes)
    add_bytes_in(request, body.size_bytes)
    headers = {"ETag": quoted_etag(version)}
    headers.update(written_version_headers(bucket, version))
    headers.update(
        {k: v for k, v in version.system_metadata.items() if k.startswith("x-amz-checksum-")}
    )
    headers.update(sse.response_headers(version.system_metadata))
    return web.Response(status=200, headers=headers)


async def _read_version(
    request: web.Request, state: GatewayState, route: Route, access_key: str, deadline: Deadline
) -> tuple[BucketInfo, ObjectVersion]:
    """The bucket and the version, for whom ownership, the bucket policy or the
    object's ACL lets read it (gateway/authorization.py); AccessDenied
    otherwise — also for a missing key unless the requester may list the
    bucket, so that nobody learns what a bucket holds without the right to list it."""
    check_key(route.key)
    if not access_key and any(name.startswith("response-") for name in request.query):
        raise errors.InvalidRequest(
            "Request specific response headers cannot be used for anonymous GET requests."
        )
    bucket = await state.metadata.get_bucket(
        route.bucket, timeout=deadline.remaining(), cached=True
    )
    owner = bool(access_key) and bucket.owner == access_key
    version_id = request.query.get("versionId", "")
    operation = route.operation
    try:
        if version_id:
            version = await state.metadata.get_object_version(
                route.bucket, route.key, version_id, timeout=deadline.remaining()
            )
        else:
            version = await state.metadata.get_object(
                route.bucket, route.key, timeout=deadline.remaining()
            )
    except (errors.NoSuchKey, errors.NoSuchVersion) as exc:
        # As S3: a missing key is NoSuchKey only to whom may list the bucket.
        if not owner and not allowed(
            request, bucket, access_key, "ListObjects", action="s3:ListBucket"
        ):
            raise errors.AccessDenied() from exc
        if isinstance(exc, errors.NoSuchKey) and bucket.versioning and not version_id:
            newest = await _newest_or_none(state, route, deadline)
            if newest is not None and newest.delete_marker:
                exc.headers.update(_marker_headers(newest))
        raise
    if not allowed(request, bucket, access_key, operation, key=route.key, object_acl=version.acl):
        raise errors.AccessDenied()
    if version.delete_marker:  # only reachable by id
        error = errors.MethodNotAllowed()
        error.headers.update(_marker_headers(version))
        raise error
    return bucket, version


async def _newest_or_none(
    state: GatewayState, route: Route, deadline: Deadline
) -> ObjectVersion | None:
    try:
        return await state.metadata.get_object_version(
            route.bucket, route.key, "", timeout=deadline.remaining()
        )
    except errors.NoSuchKey:
        return None


def _marker_headers(marker: ObjectVersion) -> dict[str, str]:
    return {
        "x-amz-delete-marker": "true",
        "x-amz-version-id": marker.s3_version_id,
        "Last-Modified": http_date(marker.last_modified),
    }


def _response_headers(
    request: web.Request, version: ObjectVersion, ranged: bool, extra: dict[str, str]
) -> dict[str, str]:
    headers = object_headers(version)
    # The stored Cache-Control is one input of the caching decision (extra),
    # not sent as it is.
    headers.pop("cache-control", None)
    headers.update(extra)
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


def _selected_part(request: web.Request, version: ObjectVersion) -> tuple[int, int] | None:
    """The bytes ?partNumber=N selects: part N of a multipart object; the whole
    object for part 1 of any other; InvalidPartNumber past the last part."""
    if "partNumber" not in request.query:
        return None
    number = part_number_of(request.query["partNumber"])
    if not version.is_multipart:
        if number != 1:
            raise errors.InvalidPartNumber()
        return 0, version.size_bytes - 1
    if number > len(version.segments):
        raise errors.InvalidPartNumber()
    return part_range([s.size_bytes for s in version.segments], number - 1)


def write_conditions(request: web.Request) -> dict[str, Any]:
    """If-None-Match: * and If-Match on a write (S3 supports no other forms)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise errors.NotImplemented("If-None-Match on a write accepts only *.")
    return {
        "if_none_match_star": if_none_match is not None,
        "if_match_etag": request.headers.get("If-Match", "").strip(),
    }


def cache_headers(
    request: web.Request, bucket: BucketInfo, version: ObjectVersion, *, public: bool
) -> dict[str, str]:
    """Cache-Control and Vary of a read of version (tessera/caching.py);
    public: whether everyone may read it (tessera/access.py decides)."""
    if public:
        reader = caching.Reader.ANYONE
    elif "X-Amz-Signature" in request.query:
        reader = caching.Reader.PRESIGNED
    else:
        reader = caching.Reader.SIGNED
    value = caching.cache_control(
        caching.CacheInputs(
            stored=version.system_metadata.get("cache-control", ""),
            bucket_default=bucket.cache_control,
            reader=reader,
            versioned_url="versionId" in request.query,
        )
    )
    headers = {"Cache-Control": value} if value else {}
    if bucket.cors:
        # CORS headers depend on the request's Origin: a cache must keep one
        # answer per origin (and one for requests without any).
        headers["Vary"] = cors.VARY
    return headers


async def _answer(
    request: web.Request, state: GatewayState, route: Route, access_key: str, *, body: bool
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    prefetch = None
    # A record this gateway holds under a record lease answers at once: no
    # metadata round trip for a prefetch to overlap (metadata/leased_records.py).
    records = state.metadata.records
    held = records is not None and records.holds(route.bucket, route.key)
    if body and not held:

        def may_read(guess: ObjectVersion) -> bool:
            cached = state.metadata.buckets.get(route.bucket)
            return cached is not None and allowed(
                request, cached, access_key, route.operation, key=route.key, object_acl=guess.acl
            )

        prefetch = Prefetch.start(
            request,
            route.bucket,
            route.key,
            may_read=may_read,
            hints=state.version_hints,
            cluster=state.cluster,
            admission=state.admission,
            executor=state.executor,
            deadline=deadline,
        )
    try:
        bucket, version = await _read_version(request, state, route, access_key, deadline)
        if "versionId" not in request.query:
            state.version_hints.remember(version)
        public = anyone_may_read(
            bucket, route.key, version.acl, versioned="versionId" in request.query
        )
        extra = cache_headers(request, bucket, version, public=public)
        prefetched = await prefetch.take(version) if prefetch is not None else None
        return await serve_version(
            request, state, version, extra, body=body, deadline=deadline, prefetched=prefetched
        )
    finally:
        if prefetch is not None:
            await prefetch.close()


async def serve_version(
    request: web.Request,
    state: GatewayState,
    version: ObjectVersion,
    extra_headers: dict[str, str],
    *,
    body: bool,
    deadline: Deadline,
    status: int = 200,
    prefetched: AsyncGenerator[Buffer, None] | None = None,
) -> web.StreamResponse:
    """Answers a GET (body) or HEAD of a version that may be read: conditional
    headers, Range and ?partNumber=, then the stripes streamed out.
    extra_headers (caching) go on every answer, 304 included (RFC 9110
    §15.4.5); status replaces 200 (a website's error document). prefetched:
    the whole version's bytes already being read (gateway/prefetch.py; its
    reservation is held by the prefetch)."""
    customer = sse.customer_key(request.headers)
    data_key = await state.encryption.data_key(version.system_metadata, customer, deadline=deadline)
    # An error document (status other than 200) is never "not modified".
    condition = conditions.evaluate(request.headers, version) if status == 200 else None
    if condition == 412:
        raise errors.PreconditionFailed(Condition="If-Match")
    if condition == 304:
        headers = {
            "ETag": quoted_etag(version),
            "Last-Modified": object_headers(version)["Last-Modified"],
        }
        if "expires" in version.system_metadata:
            headers["Expires"] = version.system_metadata["expires"]
        headers.update(extra_headers)
        return web.Response(status=304, headers=headers)
    size = version.size_bytes
    first, last = 0, size - 1
    ranged = False
    range_header = request.headers.get("Range") if status == 200 else None
    part = _selected_part(request, version)
    if part is not None:
        if range_header is not None:
            raise errors.InvalidRequest("Cannot specify both Range header and partNumber query.")
        first, last = part
        ranged = version.is_multipart
    elif range_header is not None:
        try:
            parsed = parse_range(range_header, size)
        except InvalidRange as exc:
            raise errors.InvalidRange(
                ActualObjectSize=str(size), RangeRequested=range_header
            ) from exc
        if parsed is not None:
            first, last = parsed
            ranged = True
    headers = _response_headers(request, version, ranged, extra_headers)
    length = last - first + 1 if size else 0
    if ranged:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if part is not None and version.is_multipart:
        headers["x-amz-mp-parts-count"] = str(len(version.segments))
    response = web.StreamResponse(status=206 if ranged else status, headers=headers)
    response.content_length = length
    if not body or length == 0:
        await response.prepare(request)
        await response.write_eof()
        return response
    if prefetched is not None and not ranged:
        return await _stream_body(request, response, version, prefetched)
    with state.admission.reserve(read_buffer_bytes(version.geometry, version.size_bytes)):
        pieces = read_range(
            cluster=state.cluster,
            version=version,
            first=first,
            last=last,
            executor=state.executor,
            deadline=deadline,
            data_key=data_key,
        )
        return await _stream_body(request, response, version, pieces)


# A one-piece body up to this size is answered with its headers in one write
# (_stream_body). Larger ones (an encrypted stripe of up to 4 MiB) stream as
# before: the saved write is nothing to them, and aiohttp warns of big bodies
# given to a Response whole.
ONE_WRITE_BYTES_MAX = 64 * 1024


async def _stream_body(
    request: web.Request,
    response: web.StreamResponse,
    version: ObjectVersion,
    pieces: AsyncGenerator[Buffer, None],
) -> web.StreamResponse:
    """Sends the pieces as response's body; returns the response sent. A small
    body that comes as one piece (an inline object, a small range) goes out
    with its headers in one write, as a Response: a StreamResponse sends its
    headers on their own first."""
    try:
        first = await anext(pieces)  # errors before the headers get an S3 answer
        data: Buffer | None = first
        whole: Buffer | None = None
        if len(first) == response.content_length and len(first) <= ONE_WRITE_BYTES_MAX:
            # sent by write_eof, with the headers
            whole, data = first, None
            response = web.Response(status=response.status, headers=response.headers, body=whole)
        await response.prepare(request)
        try:
            while data is not None:
                await response.write(data)
                _count_out(request, len(data))
                data = await anext(pieces, None)
            await response.write_eof()
            if whole is not None:
                _count_out(request, len(whole))
        except (errors.TesseraError, ConnectionError) as exc:
            # The status line is gone: all that is left is to cut the
            # connection, so the client sees a short body, never wrong bytes.
            log.warning("%s/%s: body cut after headers: %s", version.bucket, version.key, exc)
            if request.transport is not None:
                request.transport.close()
        return response
    finally:
        await pieces.aclose()


def _count_out(request: web.Request, sent_bytes: int) -> None:
    metrics.BYTES_OUT.inc(sent_bytes)
    add_bytes_out(request, sent_bytes)


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
    version_id = request.query.get("versionId", "")
    # As PUT: decided on the cached bucket record, committed only if metadata
    # still has that record; else decided again on a fresh read.
    cached = True
    for attempt in range(1, BUCKET_RECHECKS_MAX + 2):
        bucket = await authorized_bucket(request, state, route, access_key, deadline, cached=cached)
        bypass = may_bypass_governance(request, bucket, access_key, route.operation, route.key)
        try:
            done = await state.metadata.delete_versioned(
                route.bucket,
                route.key,
                version_id=version_id,
                timeout=deadline.remaining(),
                bypass_governance=bypass,
                if_bucket_fingerprint=bucket_fingerprint(bucket),
            )
            break
        except errors.BucketChanged:
            metrics.BUCKET_RECHECKS.inc()
            if attempt > BUCKET_RECHECKS_MAX:
                raise errors.ServiceUnavailable(
                    "The bucket's configuration kept changing during the request."
                ) from None
            cached = False
    state.reclaimer.unreferenced(done.removed)
    headers: dict[str, str] = {}
    if done.marker is not None:
        headers = {"x-amz-delete-marker": "true", "x-amz-version-id": done.marker.s3_version_id}
    elif version_id:
        headers["x-amz-version-id"] = version_id
        if done.removed is not None and done.removed.delete_marker:
            headers["x-amz-delete-marker"] = "true"
    return web.Response(status=204, headers=headers)
