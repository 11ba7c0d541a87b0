"""aws-chunked framing and its signatures (SigV4 streaming uploads), pure.

Framing, as S3 defines it:
    signed:    <hex size>;chunk-signature=<64 hex>\\r\\n<data>\\r\\n ... 0;chunk-signature=..\\r\\n
    unsigned:  <hex size>\\r\\n<data>\\r\\n ... 0\\r\\n
    then, for the *-TRAILER modes, trailer lines "name:value\\r\\n" (the signed
    form ends with x-amz-trailer-signature), and a final "\\r\\n".

Each chunk signature chains from the previous one (the first from the seed
signature of the Authorization header), so a chunk cannot be dropped,
reordered or altered without the next signature failing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.auth.canonical import signature, signatures_equal
from tessera import errors

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
CHUNK_HEADER_MAX_BYTES = 4096
CHUNK_SIZE_MAX_BYTES = 16 * 1024 * 1024
TRAILER_SIGNATURE = "x-amz-trailer-signature"


@dataclass(frozen=True, slots=True)
class ChunkHeader:
    size_bytes: int
    signature: str | None


def parse_chunk_header(line: bytes, *, signed: bool) -> ChunkHeader:
    """Parses '<hex>[;chunk-signature=<sig>]' (without its CRLF)."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise errors.IncompleteBody("Malformed aws-chunked chunk header.") from exc
    size_text, _, extension = text.partition(";")
    try:
        size = int(size_text.strip(), 16)
    except ValueError as exc:
        raise errors.IncompleteBody("Malformed aws-chunked chunk size.") from exc
    if size < 0 or size > CHUNK_SIZE_MAX_BYTES:
        raise errors.InvalidArgument(f"aws-chunked chunk of {size} bytes is too large.")
    sig = None
    if extension:
        name, _, value = extension.partition("=")
        if name.strip() != "chunk-signature":
            raise errors.IncompleteBody("Unknown aws-chunked chunk extension.")
        sig = value.strip()
    if signed and sig is None:
        raise errors.SignatureDoesNotMatch("A chunk signature is missing.")
    return ChunkHeader(size, sig)


def chunk_string_to_sign(amz_date: str, scope: str, previous: str, data_sha256: str) -> str:
    return f"{CHUNK_ALGORITHM}\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{data_sha256}"


def trailer_string_to_sign(amz_date: str, scope: str, previous: str, trailer_text: str) -> str:
    digest = hashlib.sha256(trailer_text.encode()).hexdigest()
    return f"{TRAILER_ALGORITHM}\n{amz_date}\n{scope}\n{previous}\n{digest}"


class ChunkSigner:
    """Checks a chain of chunk signatures, then the trailer's."""

    def __init__(self, key: bytes, amz_date: str, scope: str, seed_signature: str) -> None:
        self._key = key
        self._amz_date = amz_date
        self._scope = scope
        self.previous = seed_signature

    def verify_chunk(self, data_sha256: str, provided: str) -> None:
        text = chunk_string_to_sign(self._amz_date, self._scope, self.previous, data_sha256)
        expected = signature(self._key, text)
        if not signatures_equal(expected, provided):
            raise errors.SignatureDoesNotMatch(
                "The chunk signature we calculated does not match the signature you provided."
            )
        self.previous = expected

    def verify_trailer(self, trailers: dict[str, str], provided: str) -> None:
        text = "".join(f"{name}:{value}\n" for name, value in trailers.items())
        expected = signature(
            self._key, trailer_string_to_sign(self._amz_date, self._scope, self.previous, text)
        )
        if not signatures_equal(expected, provided):
            raise errors.SignatureDoesNotMatch(
                "The trailer signature we calculated does not match the signature you provided."
            )


def parse_trailer_line(line: bytes) -> tuple[str, str]:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise errors.IncompleteBody("Malformed aws-chunked trailer.") from exc
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise errors.IncompleteBody("Malformed aws-chunked trailer.")
    return name.strip().lower(), value.strip()
