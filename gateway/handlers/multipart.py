"""Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
CompleteMultipartUpload and AbortMultipartUpload (the listings are in
multipart_lists.py). The design is in docs/multipart.md.

Each part is streamed through the write pipeline into its own shard set
(headers naming the bucket, key and the shard set id) and recorded with
PutPart only once its write quorum is durable; completing an upload makes the
part records the segments of the new version, so no data is copied.

Invariants: the client hears 200 for a part only after its record is
committed, and for a completion only after the version is; the shards of
whatever a committed mutation stopped referencing (a replaced part, parts
left out or aborted, an overwritten version) go to the reclaimer, and only
those — a failure whose outcome is unknown leaves its shards to the GC.

Encryption (gateway/sse.py): CreateMultipartUpload fixes the upload's
encryption and makes its one data key (recorded wrapped with the upload);
each part is sealed under a block key derived from it and the part's own
shard set id. With SSE-C every UploadPart must carry the same customer key.

Storage classes (docs/storage-classes.md): CreateMultipartUpload fixes the
upload's class (recorded with it); every part, copied or not, is written in
that class's geometry, and the completed version keeps the class.
"""

from __future__ import annotations

import time
from dataclasses import replace

from aiohttp import web

from gateway import conditions, metrics, s3xml, sse
from gateway.admission import read_buffer_bytes, write_buffer_bytes
from gateway.auth_edge import AUTH_RESULT
from gateway.authorization import authorized_bucket
from gateway.body import BodySource, StreamBody
from gateway.deadline import Deadline
from gateway.handlers.copy import (
    authorize_copy_source,
    parse_copy_source,
    source_bytes,
    source_data_key,
)
from gateway.manifest import write_manifest
from gateway.object_lock_headers import check_lock_permissions, requested_lock
from gateway.put_inputs import (
    announced_checksums,
    content_md5,
    request_body,
    stored_headers,
    user_metadata,
)
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from gateway.usage_meter import add_bytes_in
from gateway.validation import check_key
from gateway.write_path import WritePolicy, WriteRequest, store_shard_set
from tessera import access, errors, ids, limits, tagging
from tessera.model import MultipartUpload, Segment
from tessera.multipart import checksum_type_for
from tessera.recovery import encode_part_trailer
from tessera.storage_class import class_of, class_record, requested_class

COMPLETE_BODY_MAX_BYTES = 4 * 1024 * 1024  # 10,000 <Part> entries with checksums


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


def _upload_id(request: web.Request) -> str:
    upload_id = request.query.get("uploadId", "")
    if not ids.is_version_id(upload_id):
        raise errors.NoSuchUpload(UploadId=upload_id)
    return upload_id


def part_number_of(text: str | None) -> int:
    """A partNumber parameter: an integer in 1..10000, else InvalidArgument."""
    if (
        text is None
        or not text.isdigit()
        or not (limits.PART_NUMBER_MIN <= int(text) <= limits.PART_NUMBER_MAX)
    ):
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive.",
            ArgumentName="partNumber",
            ArgumentValue=str(text),
        )
    return int(text)


def _checksum_headers(checksums: dict[str, str]) -> dict[str, str]:
    return {f"x-amz-checksum-{a}": v for a, v in checksums.items()}


async def create_multipart_upload(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    algorithm = request.headers.get("x-amz-checksum-algorithm", "").strip().lower()
    checksum_type = checksum_type_for(algorithm, request.headers.get("x-amz-checksum-type", ""))
    sse.requested(request.headers, None)  # bad encryption headers: S3's error before anything
    storage_class = requested_class(
        request.headers.get("x-amz-storage-class"), state.class_policies
    )
    lock = requested_lock(request)
    upload = MultipartUpload(
        bucket=route.bucket,
        key=route.key,
        upload_id=ids.new_version_id(),
        initiated=time.time(),
        owner=access_key,
        content_type=request.headers.get("Content-Type", "binary/octet-stream"),
        user_metadata=user_metadata(request),
        system_metadata={**stored_headers(request), **class_record(storage_class)},
        checksum_algorithm=algorithm,
        checksum_type=checksum_type,
        tags=tagging.parse_header(request.headers.get("x-amz-tagging", "")),
        acl=access.stored_object_acl(request.headers.get("x-amz-acl", "")),
        lock_mode=lock.mode,
        retain_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    check_lock_permissions(request, bucket, access_key, route, lock)
    if (lock.mode or lock.legal_hold) and not bucket.object_lock_enabled:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
    encryption = sse.requested(request.headers, bucket)
    if encryption is not None:
        _, record = await state.encryption.new_data_key(encryption, deadline=deadline)
        upload = replace(upload, system_metadata={**upload.system_metadata, **record})
    created = await state.metadata.create_multipart_upload(upload, timeout=deadline.remaining())
    response = xml_response(
        s3xml.render_initiate_upload(route.bucket, route.key, created.upload_id)
    )
    if algorithm:
        response.headers["x-amz-checksum-algorithm"] = algorithm.upper()
        response.headers["x-amz-checksum-type"] = checksum_type
    response.headers.update(sse.response_headers(upload.system_metadata))
    return response


async def _sealed_for_upload(
    request: web.Request,
    state: GatewayState,
    upload: MultipartUpload,
    write: WriteRequest,
    deadline: Deadline,
) -> WriteRequest:
    """write, sealed under the upload's data key when the upload is encrypted
    (with SSE-C, the request's customer key must be the upload's)."""
    customer = sse.customer_key(request.headers)
    data_key = await state.encryption.data_key(upload.system_metadata, customer, deadline=deadline)
    if data_key is None:
        return write
    return replace(
        write, data_key=data_key, opaque_etag=sse.has_opaque_etag(upload.system_metadata)
    )


def upload_policy(state: GatewayState, upload: MultipartUpload) -> WritePolicy:
    """The write policy of the upload's class: every part is written in the
    class CreateMultipartUpload chose (InvalidStorageClass once the class is
    no longer configured)."""
    storage_class = class_of(upload.system_metadata)
    if storage_class not in state.class_policies:
        raise errors.InvalidStorageClass(
            f"The upload's storage class {storage_class} is no longer offered by this cluster."
        )
    return state.policy_for(storage_class)


async def _store_part(
    state: GatewayState,
    upload: MultipartUpload,
    part_number: int,
    body: BodySource,
    write: WriteRequest,
    deadline: Deadline,
) -> Segment:
    """Stores a part's bytes as a shard set, in the upload's class, and
    records it under the upload."""
    wanted = (upload.checksum_algorithm,) if upload.checksum_algorithm else ()
    stored = await store_shard_set(
        body=body,
        request=write,
        policy=upload_policy(state, upload),
        cluster=state.cluster,
        executor=state.executor,
        deadline=deadline,
        also_compute=wanted,
        make_trailer=lambda _set_id, etag, _checksums, _at: encode_part_trailer(
            upload.upload_id, part_number, etag
        ),
    )
    geometry = stored.geometry
    part = Segment(
        shard_set_id=stored.shard_set_id,
        part_number=part_number,
        size_bytes=stored.size_bytes,
        etag=stored.etag,
        data_shards=geometry.data_shards,
        parity_shards=geometry.parity_shards,
        chunk_size_bytes=geometry.chunk_size_bytes,
        placement=stored.placement,
        last_modified=time.time(),
        checksums=stored.checksums,
    )
    try:
        replaced = await state.metadata.put_part(
            upload.bucket, upload.key, upload.upload_id, part, timeout=deadline.remaining()
        )
    except (errors.NoSuchUpload, errors.NoSuchBucket, errors.QuotaExceeded):
        state.reclaimer.unreferenced_parts([part])  # decided: the record was not written
        raise
    if replaced is not None:
        state.reclaimer.unreferenced_parts([replaced])
    metrics.BYTES_IN.inc(part.size_bytes)
    return part


async def upload_part(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    if "x-amz-copy-source" in request.headers:
        return await upload_part_copy(request, state, route, access_key)
    deadline = _deadline(state)
    check_key(route.key)
    part_number = part_number_of(request.query.get("partNumber"))
    upload_id = _upload_id(request)
    auth = request[AUTH_RESULT]
    body = request_body(request, auth)
    if body.size_bytes > limits.PART_SIZE_MAX_BYTES:
        raise errors.EntityTooLarge()
    write = WriteRequest(
        bucket=route.bucket,
        key=route.key,
        content_type="",
        content_md5=content_md5(request),
        payload_sha256=auth.expected_payload_sha256,
        checksums=announced_checksums(request),
    )
    await authorized_bucket(request, state, route, access_key, deadline)
    sse.customer_key(request.headers)  # a malformed key: S3's error before anything
    upload = await state.metadata.get_multipart_upload(
        route.bucket, route.key, upload_id, timeout=deadline.remaining()
    )
    write = await _sealed_for_upload(request, state, upload, write, deadline)
    geometry = upload_policy(state, upload).geometry
    with state.admission.reserve(write_buffer_bytes(geometry, body.size_bytes)):
        part = await _store_part(state, upload, part_number, body, write, deadline)
    add_bytes_in(request, part.size_bytes)
    headers = {"ETag": f'"{part.etag}"', **_checksum_headers(part.checksums)}
    headers.update(sse.response_headers(upload.system_metadata))
    return web.Response(status=200, headers=headers)


def parse_copy_range(header: str | None, source_size_bytes: int) -> tuple[int, int]:
    """First and last byte of x-amz-copy-source-range ("bytes=first-last"), or
    the whole source when absent."""
    if header is None:
        return 0, source_size_bytes - 1
    spec = header.strip()
    first_text, dash, last_text = spec.removeprefix("bytes=").partition("-")
    if (
        not spec.startswith("bytes=")
        or not dash
        or not first_text.isdigit()
        or not last_text.isdigit()
        or int(first_text) > int(last_text)
    ):
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy"
        )
    first, last = int(first_text), int(last_text)
    if last >= source_size_bytes:
        raise errors.InvalidRange(
            f"Range specified is not valid for source object of size: {source_size_bytes}"
        )
    return first, last


async def upload_part_copy(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    part_number = part_number_of(request.query.get("partNumber"))
    upload_id = _upload_id(request)
    src_bucket, src_key, src_version = parse_copy_source(request.headers["x-amz-copy-source"])
    await authorize_copy_source(request, state, route, access_key, deadline)
    await authorized_bucket(request, state, route, access_key, deadline)
    upload = await state.metadata.get_multipart_upload(
        route.bucket, route.key, upload_id, timeout=deadline.remaining()
    )
    source = await state.metadata.get_object(src_bucket, src_key, timeout=deadline.remaining())
    if src_version not in (None, "null", source.version_id):
        raise errors.NoSuchVersion()
    if conditions.evaluate(request.headers, source, prefix="x-amz-copy-source-") is not None:
        raise errors.PreconditionFailed()
    src_data_key = await source_data_key(request, state, source, deadline)
    write = await _sealed_for_upload(
        request,
        state,
        upload,
        WriteRequest(bucket=route.bucket, key=route.key, content_type=""),
        deadline,
    )
    first, last = parse_copy_range(
        request.headers.get("x-amz-copy-source-range"), source.size_bytes
    )
    length = last - first + 1
    if length > limits.PART_SIZE_MAX_BYTES:
        raise errors.InvalidRequest(
            "The specified copy range is larger than the maximum part size."
        )
    pieces = source_bytes(state, source, first, last, deadline, src_data_key)
    reserve = read_buffer_bytes(source.geometry, source.size_bytes) + write_buffer_bytes(
        upload_policy(state, upload).geometry, length
    )
    try:
        with state.admission.reserve(reserve):
            part = await _store_part(
                state,
                upload,
                part_number,
                StreamBody(pieces, length),
                write,
                deadline,
            )
    finally:
        await pieces.aclose()
    body = s3xml.render_copy_part_result(part.etag, part.last_modified, part.checksums)
    response = xml_response(body)
    response.headers.update(sse.response_headers(upload.system_metadata))
    return response


async def complete_multipart_upload(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    upload_id = _upload_id(request)
    parts = s3xml.parse_complete_upload(await read_small_body(request, COMPLETE_BODY_MAX_BYTES))
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise errors.NotImplemented("A conditional write supports only If-None-Match: *.")
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    done = await state.metadata.complete_multipart_upload(
        route.bucket,
        route.key,
        upload_id,
        parts,
        ids.new_version_id(),
        timeout=deadline.remaining(),
        if_none_match_star=if_none_match is not None,
        if_match_etag=request.headers.get("If-Match", ""),
    )
    state.reclaimer.unreferenced(done.replaced)
    state.reclaimer.unreferenced_parts(done.unreferenced)
    version = done.version
    await write_manifest(version, bucket, state.policy.geometry, state.cluster, deadline)
    checksums = {
        name.removeprefix("x-amz-checksum-"): value
        for name, value in version.system_metadata.items()
        if name.startswith("x-amz-checksum-")
    }
    location = f"{request.scheme}://{request.host}/{route.bucket}/{route.key}"
    body = s3xml.render_complete_upload(location, route.bucket, route.key, version.etag, checksums)
    response = xml_response(body)
    if version.s3_version_id:
        response.headers["x-amz-version-id"] = version.s3_version_id
    response.headers.update(sse.response_headers(version.system_metadata))
    return response


async def abort_multipart_upload(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    check_key(route.key)
    upload_id = _upload_id(request)
    await authorized_bucket(request, state, route, access_key, deadline)
    parts = await state.metadata.abort_multipart_upload(
        route.bucket, route.key, upload_id, timeout=deadline.remaining()
    )
    state.reclaimer.unreferenced_parts(parts)
    return web.Response(status=204)
