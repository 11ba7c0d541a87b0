"""ListParts (GET /bucket/key?uploadId=...) and ListMultipartUploads
(GET /bucket?uploads), paginated as S3 does: part-number-marker / max-parts,
and key-marker / upload-id-marker / max-uploads with prefix and delimiter.

Invariant: following NextPartNumberMarker (or NextKeyMarker and
NextUploadIdMarker) from page to page lists every part (upload) exactly once.
"""

from __future__ import annotations

from aiohttp import web

from gateway import s3xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.handlers.multipart import part_number_of
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import errors, ids, limits
from tessera.storage_class import class_of


def _max_param(request: web.Request, name: str, cap: int) -> int:
    text = request.query.get(name)
    if text is None:
        return cap
    if not text.strip().lstrip("-").isdigit() or int(text) < 0:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=text,
        )
    return min(int(text), cap)


async def list_parts(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    check_key(route.key)
    upload_id = request.query.get("uploadId", "")
    if not ids.is_version_id(upload_id):
        raise errors.NoSuchUpload(UploadId=upload_id)
    marker_text = request.query.get("part-number-marker", "0") or "0"
    marker = 0 if marker_text == "0" else part_number_of(marker_text)
    max_parts = _max_param(request, "max-parts", limits.LIST_PARTS_MAX)
    await authorized_bucket(request, state, route, access_key, deadline)
    page = await state.metadata.list_parts(
        route.bucket, route.key, upload_id, marker, max_parts, timeout=deadline.remaining()
    )
    body = s3xml.render_list_parts(
        s3xml.ListPartsResult(
            bucket=route.bucket,
            key=route.key,
            upload_id=upload_id,
            owner_id=page.upload.owner,
            part_number_marker=marker,
            max_parts=max_parts,
            is_truncated=page.is_truncated,
            parts=[
                s3xml.PartEntry(p.part_number, p.last_modified, p.etag, p.size_bytes, p.checksums)
                for p in page.parts
            ],
            checksum_algorithm=page.upload.checksum_algorithm,
            checksum_type=page.upload.checksum_type,
            storage_class=class_of(page.upload.system_metadata),
        )
    )
    return xml_response(body)


async def list_multipart_uploads(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    query = request.query
    encoding = query.get("encoding-type")
    if encoding not in (None, "url"):
        raise errors.InvalidArgument("Invalid Encoding Method specified in Request")
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    key_marker = query.get("key-marker", "")
    upload_id_marker = query.get("upload-id-marker", "") if key_marker else ""
    max_uploads = _max_param(request, "max-uploads", limits.LIST_UPLOADS_MAX)
    await authorized_bucket(request, state, route, access_key, deadline)
    page = await state.metadata.list_multipart_uploads(
        route.bucket,
        prefix,
        delimiter,
        key_marker,
        upload_id_marker,
        max_uploads,
        timeout=deadline.remaining(),
    )
    next_key = next_upload = ""
    if page.is_truncated:
        last_upload = page.uploads[-1] if page.uploads else None
        last_prefix = page.common_prefixes[-1] if page.common_prefixes else None
        if last_prefix is not None and (last_upload is None or last_prefix > last_upload.key):
            next_key = last_prefix
        elif last_upload is not None:
            next_key, next_upload = last_upload.key, last_upload.upload_id
    body = s3xml.render_list_uploads(
        s3xml.ListUploadsResult(
            bucket=route.bucket,
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
            is_truncated=page.is_truncated,
            uploads=[
                s3xml.UploadEntry(
                    u.key,
                    u.upload_id,
                    u.owner,
                    u.initiated,
                    u.checksum_algorithm,
                    u.checksum_type,
                    class_of(u.system_metadata),
                )
                for u in page.uploads
            ],
            common_prefixes=page.common_prefixes,
            delimiter=delimiter or None,
            next_key_marker=next_key,
            next_upload_id_marker=next_upload,
            encoding_type=encoding,
        )
    )
    return xml_response(body)
