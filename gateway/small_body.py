"""Reading the small request bodies of configuration and batch requests
(XML documents, a policy's JSON) whole, with every integrity check S3 makes.

Invariant: a body returned here is at most max_bytes (larger: MalformedXML,
nothing read past the limit), matches the SHA-256 the request signed in
x-amz-content-sha256 when it signed one (XAmzContentSHA256Mismatch), and
matches its Content-MD5 or x-amz-checksum-* header when it sent one
(BadDigest); where S3 requires one of those (DeleteObjects), its absence is
InvalidRequest. Object bodies are streamed instead (gateway/body.py).
"""

from __future__ import annotations

import base64
import hashlib

from aiohttp import web

from gateway.auth_edge import AUTH_RESULT
from tessera import errors
from tessera.checksum import CHECKSUM_ALGORITHMS, new_hasher


async def read_small_body(
    request: web.Request, max_bytes: int, *, digest_required: bool = False
) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise errors.MalformedXML("The request body is too large.")
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise errors.MalformedXML("The request body is too large.")
    auth = request.get(AUTH_RESULT)
    expected = auth.expected_payload_sha256 if auth is not None else None
    if expected is not None and hashlib.sha256(body).hexdigest() != expected:
        raise errors.XAmzContentSHA256Mismatch()
    check_integrity(request, body, required=digest_required)
    return body


def check_integrity(request: web.Request, body: bytes, *, required: bool) -> None:
    """Verifies a small body's Content-MD5 or x-amz-checksum-*; without
    either, InvalidRequest when required."""
    md5 = request.headers.get("Content-MD5")
    if md5 is not None:
        if base64.b64encode(hashlib.md5(body).digest()).decode() != md5.strip():
            raise errors.BadDigest()
        return
    for algorithm in CHECKSUM_ALGORITHMS:
        expected = request.headers.get(f"x-amz-checksum-{algorithm}")
        if expected is not None:
            hasher = new_hasher(algorithm)
            hasher.update(body)
            if base64.b64encode(hasher.digest()).decode() != expected.strip():
                raise errors.BadDigest(
                    f"The {algorithm.upper()} you specified did not match the calculated checksum."
                )
            return
    if required:
        raise errors.InvalidRequest("Missing required header for this request: Content-MD5")
