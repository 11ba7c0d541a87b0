"""CORS on the S3 endpoint for pre-signed URLs that are bound to an origin.

Bucket CORS configuration does not exist yet. What exists is narrower: a
pre-signed URL whose signed headers include `origin` was minted by a key
holder (the console, server side) for one page origin. Such a URL may be used
cross-origin from exactly that origin:

- the preflight (OPTIONS on the same URL, query included) is answered 200
  when the URL verifies as a pre-signed request for the method the browser
  asks about (Access-Control-Request-Method), with the preflight's Origin as
  the signed origin; anything else is 403 (S3's "CORSResponse" refusal);
- the actual request, once authenticated the usual way, gets
  Access-Control-Allow-Origin for that origin, so the page can read the answer.

Invariant: no CORS header is ever sent for an origin that a valid signature
did not name. No cookies or other ambient credentials exist on the S3
endpoint, so Allow-Credentials is never sent. docs/console.md explains why
this and not a configured list of origins. When bucket CORS arrives, its
rules are evaluated in front of this one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway.auth import sigv4
from gateway.auth_edge import AUTH_RESULT, request_view
from gateway.routing import Route
from gateway.state import GatewayState
from tessera import errors

PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_METHODS = frozenset({"GET", "HEAD", "PUT"})
EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-version-id"
REQUEST_HEADERS_MAX_CHARS = 1024

_REFUSED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the "
    "evaluation of Origin, request method / Access-Control-Request-Method or "
    "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)


def _signs_origin(request: web.Request) -> bool:
    names = request.query.get("X-Amz-SignedHeaders", "")
    return "origin" in (name.strip().lower() for name in names.split(";"))


async def preflight(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    """OPTIONS: allowed only for a valid origin-bound pre-signed URL."""
    origin = request.headers.get("Origin")
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    if not origin or not method:
        raise errors.InvalidRequest(
            "Insufficient information. Origin request header needed."
            if not origin
            else "Insufficient information. Access-Control-Request-Method header needed."
        )
    if method not in ALLOWED_METHODS or not _signs_origin(request):
        raise errors.AccessDenied(_REFUSED)
    view = request_view(request)
    as_method = sigv4.RequestView(
        method=method,
        raw_path=view.raw_path,
        query=view.query,
        headers=view.headers,
        now=datetime.now(UTC),
    )
    try:
        sigv4.verify_presigned(as_method, state.secret_for, state.settings.region)
    except errors.TesseraError as exc:
        raise errors.AccessDenied(_REFUSED) from exc
    requested = request.headers.get("Access-Control-Request-Headers", "")
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": method,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    if requested and len(requested) <= REQUEST_HEADERS_MAX_CHARS:
        # The actual request is still verified whole (every x-amz-* header signed).
        headers["Access-Control-Allow-Headers"] = requested
    return web.Response(status=200, headers=headers)


def allow_signed_origin(request: web.Request, response: web.StreamResponse) -> None:
    """Adds Access-Control-Allow-Origin to the answer of an authenticated
    request whose pre-signed URL signed the Origin it was sent with."""
    origin = request.headers.get("Origin")
    if not origin or request.get(AUTH_RESULT) is None or "X-Amz-Signature" not in request.query:
        return
    if _signs_origin(request):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers["Vary"] = "Origin"
