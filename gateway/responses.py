"""Building S3 responses: XML bodies, error answers, and object headers."""

from __future__ import annotations

from email.utils import formatdate

from aiohttp import web

from gateway import s3xml
from tessera import errors
from tessera.model import NULL_VERSION_ID, VERSIONING_ENABLED, BucketInfo, ObjectVersion
from tessera.object_lock import format_date
from tessera.sse_keys import INTERNAL_PREFIX

XML_TYPE = "application/xml"


def xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=XML_TYPE)


def error_response(
    error: errors.TesseraError, resource: str, request_id: str, *, head: bool = False
) -> web.Response:
    """S3's answer to an error: its status and, except for HEAD, the XML body."""
    if head:
        return web.Response(status=error.http_status, headers=error.headers)
    body = s3xml.render_error(
        code=error.code,
        message=error.message,
        resource=resource,
        request_id=request_id,
        extra=error.details,
    )
    response = xml_response(body, status=error.http_status)
    response.headers.update(error.headers)
    return response


def http_date(unix_seconds: float) -> str:
    return formatdate(unix_seconds, usegmt=True)


def quoted_etag(version: ObjectVersion) -> str:
    return f'"{version.etag}"'


def object_headers(version: ObjectVersion) -> dict[str, str]:
    """Headers of GET and HEAD for a version (without length or range)."""
    headers = {
        "ETag": quoted_etag(version),
        "Last-Modified": http_date(version.last_modified),
        "Content-Type": version.content_type or "binary/octet-stream",
        "Accept-Ranges": "bytes",
    }
    for name, value in version.system_metadata.items():
        if not name.startswith(INTERNAL_PREFIX):  # e.g. the wrapped data key
            headers[name] = value
    for name, value in version.user_metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    if version.s3_version_id:
        headers["x-amz-version-id"] = version.s3_version_id
    if version.tags:
        headers["x-amz-tagging-count"] = str(len(version.tags))
    if version.lock_mode:
        headers["x-amz-object-lock-mode"] = version.lock_mode
        headers["x-amz-object-lock-retain-until-date"] = format_date(version.retain_until)
    if version.legal_hold:
        headers["x-amz-object-lock-legal-hold"] = "ON"
    return headers


def written_version_headers(bucket: BucketInfo, version: ObjectVersion) -> dict[str, str]:
    """x-amz-version-id of a version just written, from the bucket status read
    before the write. A concurrent PutBucketVersioning can make this header
    stale, never the stored record (its S3 id is decided when applied)."""
    if bucket.versioning == VERSIONING_ENABLED:
        return {"x-amz-version-id": version.version_id}
    if bucket.versioning:
        return {"x-amz-version-id": NULL_VERSION_ID}
    return {}
