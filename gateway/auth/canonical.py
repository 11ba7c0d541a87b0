"""SigV4 canonicalisation for S3: canonical request, string to sign, signing key.

Owns the byte-exact rules that turn a request into the text AWS Signature
Version 4 signs, as S3 applies them (which differ from other AWS services):

- canonical URI: the path is neither normalised ('.', '..', '//' stay) nor
  encoded twice; it is the decoded path re-encoded with only A-Z a-z 0-9
  '-_.~' and '/' left bare (the form every AWS SDK signs);
- canonical query: every name and value URI-encoded with '-_.~' unreserved
  (space is %20, never '+'), pairs sorted by encoded name, then encoded value;
- canonical headers: names lower-cased, values trimmed with inner runs of
  whitespace collapsed to one space, repeated headers joined with ',';
- signing key: HMAC-SHA256 chain over date, region, service, 'aws4_request'.

Invariant: everything here is a pure function of its arguments (no clock, no
secrets store, no I/O); the same inputs always give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE_TERMINATOR = "aws4_request"
SERVICE = "s3"

# Header values reach us decoded by the HTTP server; aiohttp decodes bytes that
# are not UTF-8 with 'surrogateescape', so encoding back the same way restores
# the bytes the client signed.
_TEXT_ERRORS = "surrogateescape"


def uri_encode(text: str, *, keep_slash: bool) -> str:
    """Percent-encodes per SigV4: only A-Z a-z 0-9 '-_.~' (and '/' if asked) stay bare."""
    return quote(text, safe="/" if keep_slash else "", errors=_TEXT_ERRORS)


def canonical_uri_candidates(raw_path: str) -> list[str]:
    """The canonical URIs a client may have signed for this raw request path.

    First the S3 form: the raw path decoded once and re-encoded per SigV4
    (what botocore and the other AWS SDKs sign). Then, if it differs, the raw
    path exactly as sent, for clients that sign what they send without
    re-encoding (for instance '%7E' for '~', or an unencoded '!'). Both decode
    to the same object path, so accepting either binds the signature to the
    same resource.
    """
    path = raw_path.partition("?")[0] or "/"
    reencoded = quote(unquote_to_bytes(path), safe="/~")
    return [reencoded] if reencoded == path else [reencoded, path]


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The canonical query string of decoded (name, value) pairs."""
    encoded = sorted(
        (uri_encode(name, keep_slash=False), uri_encode(value, keep_slash=False))
        for name, value in pairs
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_header_value(values: Sequence[str]) -> str:
    """One header's canonical value: each value trimmed and collapsed, joined by ','."""
    return ",".join(" ".join(value.split()) for value in values)


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """All values of one header (lower-case name); [] when absent.

    Uses the mapping's getall() when it has one (multidict), so a header sent
    twice is signed as both values joined; a plain mapping gives one value.
    """
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    value = headers.get(name)
    return [] if value is None else [value]


def canonical_request(
    *,
    method: str,
    canonical_uri: str,
    canonical_query_string: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """The canonical request text; signed_headers are lower-case, sorted, unique."""
    header_lines = "".join(
        f"{name}:{canonical_header_value(header_values(headers, name))}\n"
        for name in signed_headers
    )
    return "\n".join(
        [
            method.upper(),
            canonical_uri,
            canonical_query_string,
            header_lines,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical_request_text: str) -> str:
    """The string to sign: algorithm, request time, scope and the request's hash."""
    digest = hashlib.sha256(canonical_request_text.encode("utf-8", _TEXT_ERRORS)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


# Every request of a day signs with the same derived key: four HMACs saved per
# request. Bounded, keyed by the secret itself (never logged or exported).
SIGNING_KEYS_CACHED = 256


@functools.lru_cache(maxsize=SIGNING_KEYS_CACHED)
def signing_key(secret_key: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The derived SigV4 key for one day, region and service."""
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, SCOPE_TERMINATOR)


def signature(key: bytes, text: str) -> str:
    """Lower-case hex HMAC-SHA256 of text under a derived signing key."""
    return hmac.digest(key, text.encode("utf-8", _TEXT_ERRORS), "sha256").hex()


def signatures_equal(expected_hex: str, provided: str) -> bool:
    """Constant-time comparison of the computed and the client's signature."""
    return hmac.compare_digest(expected_hex.encode("ascii"), provided.encode("utf-8", _TEXT_ERRORS))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode("utf-8"), "sha256")
