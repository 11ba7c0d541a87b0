"""What a PUT (PutObject, UploadPart) says about the bytes it carries: the body
whatever its framing, Content-MD5, the additional checksums sent or announced
for the trailer, the headers stored with the object, and user metadata.

Invariant: every value here is checked as S3 checks it before any byte is
stored (InvalidDigest, MissingContentLength, MetadataTooLarge, InvalidRequest).
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from gateway.auth.chunk_signing import ChunkSigner
from gateway.auth.sigv4 import AuthResult, PayloadMode
from gateway.body import BodySource, PlainBody
from gateway.chunked_body import AwsChunkedBody
from gateway.validation import check_user_metadata
from tessera import errors
from tessera.checksum import CHECKSUM_ALGORITHMS

# Headers stored with a version and returned on GET/HEAD as they were sent.
STORED_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)


def content_md5(request: web.Request) -> bytes | None:
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


def announced_checksums(request: web.Request) -> dict[str, str | None]:
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


def request_body(request: web.Request, auth: AuthResult) -> BodySource:
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


def stored_headers(request: web.Request) -> dict[str, str]:
    stored = {h: request.headers[h] for h in STORED_HEADERS if h in request.headers}
    encodings = [
        e.strip()
        for e in stored.pop("content-encoding", "").split(",")
        if e.strip() and e.strip() != "aws-chunked"
    ]
    if encodings:
        stored["content-encoding"] = ",".join(encodings)
    return stored


def user_metadata(request: web.Request) -> dict[str, str]:
    meta = {
        name.lower()[len("x-amz-meta-") :]: value
        for name, value in request.headers.items()
        if name.lower().startswith("x-amz-meta-")
    }
    check_user_metadata(meta)
    return meta
