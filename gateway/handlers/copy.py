"""CopyObject: a server-side copy, with no data round trip through the client.

The source (single-part or multipart) is read through the read pipeline and written as a new version
through the write pipeline (new placement, new shards): the copy is as
durable as any PUT and independent of the source's later life. Metadata is
copied (x-amz-metadata-directive: COPY, the default) or replaced (REPLACE),
and so are the tags (x-amz-tagging-directive: COPY, the default, or REPLACE
with the x-amz-tagging header; no header: no tags); the copy-source
conditions are checked against the source version.
The copy is written in the class its x-amz-storage-class names (none:
STANDARD), whatever the source's: a copy onto itself that names another class
rewrites the data in that class's geometry (docs/storage-classes.md).
Encryption (gateway/sse.py): an SSE-C source needs its key in the
x-amz-copy-source-server-side-encryption-customer-* headers; the copy is
encrypted as its own headers (or the bucket default) say, never by
inheriting the source's.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from urllib.parse import unquote

from aiohttp import web

from gateway import conditions, s3xml, sse
from gateway.admission import read_buffer_bytes, write_buffer_bytes
from gateway.authorization import authorized_bucket
from gateway.body import StreamBody
from gateway.deadline import Deadline
from gateway.object_lock_headers import check_lock_permissions, requested_lock
from gateway.read_path import read_range
from gateway.responses import written_version_headers, xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.validation import check_key
from gateway.write_path import WriteRequest, write_object
from proto.wire import Buffer
from tessera import access, errors, limits, tagging
from tessera.model import ObjectVersion
from tessera.storage_class import class_of, requested_class


def parse_copy_source(header: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of an x-amz-copy-source value."""
    path, _, query = header.partition("?")
    version = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId":
            raise errors.InvalidArgument("Invalid copy source: unknown parameter.")
        version = unquote(value)
    try:
        decoded = unquote(path.lstrip("/"), errors="strict")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument("Invalid copy source encoding.") from exc
    bucket, slash, key = decoded.partition("/")
    if not bucket or not slash or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey."
        )
    return bucket, key, version


async def _nothing() -> AsyncGenerator[Buffer, None]:
    return
    yield b""  # an async generator that yields nothing


def source_bytes(
    state: GatewayState,
    source: ObjectVersion,
    first: int,
    last: int,
    deadline: Deadline,
    data_key: bytes | None = None,
) -> AsyncGenerator[Buffer, None]:
    """Bytes first..last of a copy source (nothing for an empty range);
    data_key: the source's, when it is encrypted."""
    if last < first:
        return _nothing()
    return read_range(
        cluster=state.cluster,
        version=source,
        first=first,
        last=last,
        executor=state.executor,
        deadline=deadline,
        data_key=data_key,
    )


def tags_for_copy(request: web.Request, source: ObjectVersion) -> dict[str, str]:
    """The copy's tags, by x-amz-tagging-directive."""
    directive = request.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown tagging directive.")
    if directive == "COPY":
        return dict(source.tags)
    return tagging.parse_header(request.headers.get("x-amz-tagging", ""))


async def source_data_key(
    request: web.Request, state: GatewayState, source: ObjectVersion, deadline: Deadline
) -> bytes | None:
    """The copy source's data key, opened with the copy-source SSE-C headers."""
    customer = sse.customer_key(request.headers, sse.COPY_SOURCE_CUSTOMER_PREFIX)
    return await state.encryption.data_key(source.system_metadata, customer, deadline=deadline)


def _metadata_for_copy(
    request: web.Request,
    source: ObjectVersion,
    stored_headers: dict[str, str],
    user_metadata: dict[str, str],
) -> tuple[str, dict[str, str], dict[str, str]]:
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument("Unknown metadata directive.")
    if directive == "COPY":
        system = {
            k: v
            for k, v in sse.without_encryption(source.system_metadata).items()
            if not k.startswith("x-amz-checksum-")
        }
        return source.content_type, dict(source.user_metadata), system
    content_type = request.headers.get("Content-Type", "binary/octet-stream")
    return content_type, user_metadata, stored_headers


async def authorize_copy_source(
    request: web.Request, state: GatewayState, route: Route, access_key: str, deadline: Deadline
) -> None:
    """AccessDenied unless the requester may read the x-amz-copy-source object
    (s3:GetObject, or s3:GetObjectVersion for a version), as S3 checks a copy."""
    src_bucket, src_key, src_version = parse_copy_source(request.headers["x-amz-copy-source"])
    await authorized_bucket(
        request,
        state,
        route,
        access_key,
        deadline,
        bucket_name=src_bucket,
        key=src_key,
        action="s3:GetObjectVersion" if src_version else "s3:GetObject",
        operation="GetObject",
    )


async def copy_object(
    request: web.Request,
    state: GatewayState,
    route: Route,
    access_key: str,
    stored_headers: dict[str, str],
    user_metadata: dict[str, str],
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    check_key(route.key)
    lock = requested_lock(request)
    src_bucket, src_key, src_version = parse_copy_source(request.headers["x-amz-copy-source"])
    own_encryption = sse.requested(request.headers, None)  # checked before anything
    # The copy's class is its own header's (none: STANDARD), never the source's.
    storage_class = requested_class(
        request.headers.get("x-amz-storage-class"), state.class_policies
    )
    policy = state.policy_for(storage_class)
    await authorize_copy_source(request, state, route, access_key, deadline)
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    check_lock_permissions(request, bucket, access_key, route, lock)
    if src_version:
        source = await state.metadata.get_object_version(
            src_bucket, src_key, src_version, timeout=deadline.remaining()
        )
        if source.delete_marker:
            raise errors.InvalidRequest(
                "The source of a copy request may not specifically refer to a delete "
                "marker by version id."
            )
    else:
        source = await state.metadata.get_object(src_bucket, src_key, timeout=deadline.remaining())
    if source.size_bytes > limits.SINGLE_PUT_SIZE_MAX_BYTES:
        raise errors.InvalidRequest(
            "The specified copy source is larger than the maximum allowable size for a copy "
            "source: 5368709120"
        )
    if conditions.evaluate(request.headers, source, prefix="x-amz-copy-source-") is not None:
        raise errors.PreconditionFailed()
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    src_data_key = await source_data_key(request, state, source, deadline)
    same_key = (src_bucket, src_key) == (route.bucket, route.key)
    new_class = storage_class != class_of(source.system_metadata)
    if same_key and directive == "COPY" and own_encryption is None and not new_class:
        raise errors.InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes."
        )
    content_type, user_meta, system_meta = _metadata_for_copy(
        request, source, stored_headers, user_metadata
    )
    tags = tags_for_copy(request, source)
    write = await state.encryption.sealed(
        WriteRequest(
            bucket=route.bucket,
            key=route.key,
            content_type=content_type,
            user_metadata=user_meta,
            system_metadata=sse.without_encryption(system_meta),
            tags=tags,
            acl=access.stored_object_acl(request.headers.get("x-amz-acl", "")),
            lock=lock,
        ),
        sse.requested(request.headers, bucket),
        deadline,
    )
    geometry = source.geometry
    stripes = source_bytes(state, source, 0, source.size_bytes - 1, deadline, src_data_key)
    reserve = read_buffer_bytes(geometry, source.size_bytes) + write_buffer_bytes(
        policy.geometry, source.size_bytes
    )
    try:
        with state.admission.reserve(reserve):
            version, replaced = await write_object(
                body=StreamBody(stripes, source.size_bytes),
                request=write,
                policy=policy,
                cluster=state.cluster,
                metadata=state.metadata,
                executor=state.executor,
                deadline=deadline,
                reclaimer=state.reclaimer,
                bucket=bucket,
            )
    finally:
        await stripes.aclose()
    state.reclaimer.unreferenced(replaced)
    response = xml_response(s3xml.render_copy_result(version.etag, version.last_modified))
    if source.s3_version_id:
        response.headers["x-amz-copy-source-version-id"] = source.s3_version_id
    response.headers.update(written_version_headers(bucket, version))
    response.headers.update(sse.response_headers(version.system_metadata))
    return response
