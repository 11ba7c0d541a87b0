"""Pre-signed S3 URLs (SigV4 query form), minted server side.

Owns turning (method, endpoint, bucket, key, credentials, time, validity) into
a path-style URL that gateway.auth.sigv4.verify_presigned accepts, built from
the same canonicalisation functions it verifies with (gateway.auth.canonical).
The console uses it so that a browser can upload and download without ever
holding a secret key.

Extra signed headers bind a URL to more than its host: the console signs
`origin`, so an upload URL is good only from the console's own page (browsers
set Origin themselves; a script cannot forge it), which is also what lets the
S3 endpoint answer that page's CORS preflight (gateway/cors.py).

Invariant: a pure function of its arguments (no clock, no secrets store); the
payload is always UNSIGNED-PAYLOAD, as every SDK's pre-signed URLs are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from gateway.auth import canonical
from gateway.auth.sigv4 import AMZ_DATE_FORMAT, PRESIGNED_EXPIRES_MAX_SECONDS, PayloadMode

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_header(endpoint: str) -> str:
    """The Host header a browser sends for endpoint (scheme://host[:port]):
    the host lower-cased, the port left out when it is the scheme's default."""
    parts = urlsplit(endpoint)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is None or parts.port == _DEFAULT_PORTS[parts.scheme]:
        return host
    return f"{host}:{parts.port}"


def presign(
    *,
    method: str,
    endpoint: str,
    bucket: str,
    key: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
    expires_seconds: int,
    signed_headers: Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] = (),
) -> str:
    """A path-style pre-signed URL for one request on bucket/key.

    signed_headers: lower-case header names and the exact values the request
    will carry, signed besides Host (e.g. {"origin": "http://console:9001"}).
    query: extra decoded query pairs to sign (e.g. response-content-disposition).
    """
    assert now.tzinfo is not None, "now must be timezone-aware"
    assert 1 <= expires_seconds <= PRESIGNED_EXPIRES_MAX_SECONDS, expires_seconds
    assert bucket, "a pre-signed URL names a bucket"
    scheme = urlsplit(endpoint).scheme
    headers = {"host": host_header(endpoint)}
    for name, value in (signed_headers or {}).items():
        assert name == name.lower() and name != "host", name
        headers[name] = value
    names = sorted(headers)
    amz_date = now.strftime(AMZ_DATE_FORMAT)
    scope = f"{amz_date[:8]}/{region}/{canonical.SERVICE}/{canonical.SCOPE_TERMINATOR}"
    pairs = [
        *query,
        ("X-Amz-Algorithm", canonical.ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires_seconds)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    uri = canonical.uri_encode(f"/{bucket}/{key}" if key else f"/{bucket}", keep_slash=True)
    query_text = canonical.canonical_query(pairs)
    request_text = canonical.canonical_request(
        method=method,
        canonical_uri=uri,
        canonical_query_string=query_text,
        headers=headers,
        signed_headers=names,
        payload_hash=PayloadMode.UNSIGNED.value,
    )
    signing_key = canonical.signing_key(secret_key, amz_date[:8], region)
    sig = canonical.signature(signing_key, canonical.string_to_sign(amz_date, scope, request_text))
    return f"{scheme}://{headers['host']}{uri}?{query_text}&X-Amz-Signature={sig}"
