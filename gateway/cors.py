"""CORS on the S3 endpoint: a bucket's CORS rules, then pre-signed URLs that
are bound to an origin.

A bucket's rules (PutBucketCors; tessera/access.py match_cors) are evaluated
first, as S3 does: a preflight matching a rule is answered from it, and an
actual request from a matching origin gets the rule's headers (added as the
response is prepared, so streamed GETs get them too).

Otherwise, narrower: a
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
did not name, or that the bucket's owner did not configure. No cookies or
other ambient credentials exist on the S3 endpoint, so Allow-Credentials is
never sent. docs/console.md explains why the console relies on signed
origins and not on a configured list.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from gateway.auth import sigv4
from gateway.auth_edge import AUTH_RESULT, claimed_access_key, request_view, resolve_key
from gateway.routing import Route
from gateway.state import GatewayState
from tessera import access, errors

BUCKET_CORS_HEADERS = web.RequestKey("tessera_bucket_cors", dict)
BUCKET_LOOKUP_SECONDS_MAX = 5.0

PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_METHODS = frozenset({"GET", "HEAD", "PUT"})
EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-version-id"
REQUEST_HEADERS_MAX_CHARS = 1024
# What a bucket's CORS answers depend on, for caches (as S3 sends it).
VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

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
    requested = request.headers.get("Access-Control-Request-Headers", "")
    from_rules = await _rule_headers(state, route.bucket, origin, method, requested)
    if from_rules is not None:
        return web.Response(status=200, headers=from_rules)
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
    await resolve_key(state, claimed_access_key(request))
    try:
        sigv4.verify_presigned(as_method, state.secret_for, state.settings.region)
    except errors.TesseraError as exc:
        raise errors.AccessDenied(_REFUSED) from exc
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": method,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": VARY,
    }
    if requested and len(requested) <= REQUEST_HEADERS_MAX_CHARS:
        # The actual request is still verified whole (every x-amz-* header signed).
        headers["Access-Control-Allow-Headers"] = requested
    return web.Response(status=200, headers=headers)


async def _rule_headers(
    state: GatewayState, bucket_name: str, origin: str, method: str, requested: str
) -> dict[str, str] | None:
    """The CORS headers of the bucket's first rule that allows this request
    (a preflight when requested headers are given); None when none does."""
    if not bucket_name:
        return None
    timeout = min(BUCKET_LOOKUP_SECONDS_MAX, state.settings.request_timeout_seconds)
    try:
        bucket = await state.metadata.get_bucket(bucket_name, timeout=timeout)
    except errors.TesseraError:
        return None
    names = [h.strip() for h in requested.split(",") if h.strip()]
    rule = access.match_cors(access.cors_from_json(bucket.cors), origin, method, names)
    if rule is None:
        return None
    headers = {
        "Access-Control-Allow-Origin": "*" if rule.allowed_origins == ("*",) else origin,
        "Access-Control-Allow-Methods": ", ".join(rule.allowed_methods),
        "Vary": VARY,
    }
    if names:
        headers["Access-Control-Allow-Headers"] = ", ".join(names)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return headers


async def note_bucket_rules(request: web.Request, state: GatewayState, route: Route) -> None:
    """For an actual (not preflight) cross-origin request: finds the bucket's
    matching rule now, so its headers go out however the response is sent."""
    origin = request.headers.get("Origin")
    if not origin or not route.bucket or route.operation == "PreflightRequest":
        return
    headers = await _rule_headers(state, route.bucket, origin, request.method, "")
    if headers is not None:
        headers.pop("Access-Control-Max-Age", None)
        request[BUCKET_CORS_HEADERS] = headers


async def add_bucket_rule_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers note_bucket_rules found, on any response."""
    for name, value in request.get(BUCKET_CORS_HEADERS, {}).items():
        response.headers.setdefault(name, value)


def allow_signed_origin(request: web.Request, response: web.StreamResponse) -> None:
    """Adds Access-Control-Allow-Origin to the answer of an authenticated
    request whose pre-signed URL signed the Origin it was sent with."""
    origin = request.headers.get("Origin")
    if not origin or request.get(AUTH_RESULT) is None or "X-Amz-Signature" not in request.query:
        return
    if BUCKET_CORS_HEADERS in request:
        return  # the bucket's rule answered
    if _signs_origin(request):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers["Vary"] = "Origin"
