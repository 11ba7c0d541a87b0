"""The web console's HTTP side: an aiohttp sub-application mounted at /console
on the gateway's ops endpoint (http_listen), next to /metrics and /healthz.

Routes (JSON under /console/api/, docs/console.md lists them):
  GET  /console/                      the page (static HTML, JS, CSS; no build step)
  POST /console/api/session           sign in (a plain HTML form post) -> cookie, 303
  GET  /console/api/session           who is signed in, the CSRF token, the S3 endpoint
  DELETE /console/api/session         sign out
  GET  /console/api/cluster[/{panel}] the cluster panels (gateway/console/panels.py)
  GET|POST /console/api/buckets ...   the bucket browser (gateway/console/browser.py)

Invariants:
- the secret key never appears in a response: sign-in reads it from a form
  the browser posts natively (the page's script never touches it), the server
  compares it in constant time and keeps only the access key in the session;
- every /console/api/ route but sign-in needs a live session cookie
  (HttpOnly, SameSite=Strict, Path=/console/);
- every state-changing request (any method but GET/HEAD) carries the
  session's CSRF token in X-CSRF-Token; sign-in, which has no session yet,
  is refused when the browser says it came from another site (login CSRF);
- every response carries a strict Content-Security-Policy (scripts only from
  /console/static/, fetches only to the console and the S3 endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gateway.auth_edge import resolve_key
from gateway.console import browser
from gateway.console.panels import PANELS, PanelContext, render_panel
from gateway.console.rates import RateSampler
from gateway.console.sessions import Session, SessionStore
from gateway.state import GatewayState
from tessera import errors, limits
from tessera.config import host_port

log = logging.getLogger(__name__)

PREFIX = "/console"
COOKIE_NAME = "tessera_console"
CSRF_HEADER = "X-CSRF-Token"
SIGNIN_FAILURE_DELAY_SECONDS = 0.3  # blunts guessing without blocking the loop
JSON_BODY_MAX_BYTES = 16 * 1024
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "index.html": "text/html",
    "console.js": "text/javascript",
    "console.css": "text/css",
}


class ConsoleState:
    """What the console's handlers share: the gateway, sessions, rate readings."""

    def __init__(self, gateway: GatewayState, sessions: SessionStore, rates: RateSampler) -> None:
        self.gateway = gateway
        self.sessions = sessions
        self.rates = rates
        self.static = {name: (STATIC_DIR / name).read_bytes() for name in STATIC_FILES}


CONSOLE = web.AppKey("tessera_console", ConsoleState)
_HOSTNAME = re.compile(r"[A-Za-z0-9.\-]+|[0-9A-Fa-f:.]+")  # a DNS name or an IP literal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def s3_endpoint(request: web.Request, gateway: GatewayState) -> str:
    """The S3 endpoint as the browser reaches it: the configured public URL, else
    the console's own host name with the S3 port (https when TLS is on)."""
    settings = gateway.settings
    if settings.public_s3_url:
        return settings.public_s3_url.rstrip("/")
    scheme = "https" if settings.tls_cert_file else "http"
    hostname = urlsplit(f"http://{request.host}").hostname or ""
    if not _HOSTNAME.fullmatch(hostname):  # it goes into a CSP header and URLs
        hostname = host_port(settings.listen)[0]
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{scheme}://{hostname}:{host_port(settings.listen)[1]}"


def _security_headers(response: web.StreamResponse, s3: str) -> None:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {s3}; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null"
    # on the sign-in form's post, which the login-CSRF check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session and CSRF checks, error mapping, security headers."""
    console = request.app[CONSOLE]
    s3 = s3_endpoint(request, console.gateway)
    try:
        response = await _checked(request, handler, console)
    except web.HTTPException as exc:  # the router's 404 / 405
        _security_headers(exc, s3)
        raise
    except errors.TesseraError as exc:
        response = _json_error(exc.http_status, exc.code, exc.message)
    except Exception:
        log.exception("console request %s %s failed", request.method, request.path)
        response = _json_error(500, "InternalError", "The console hit an internal error.")
    _security_headers(response, s3)
    return response


def _is_public(request: web.Request) -> bool:
    api = f"{PREFIX}/api/"
    if not request.path.startswith(api):
        return True  # the page and its static files
    return request.path == f"{api}session" and request.method in ("POST", "GET")


async def _checked(
    request: web.Request, handler: Handler, console: ConsoleState
) -> web.StreamResponse:
    await _refresh_key(request)
    session = _current_session(request)
    if _is_public(request):
        return await handler(request)
    if session is None:
        return _json_error(401, "NotSignedIn", "Sign in first (or again: the session expired).")
    if request.method not in ("GET", "HEAD") and not session.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        return _json_error(
            403, "InvalidCSRFToken", f"A state-changing request needs the {CSRF_HEADER} header."
        )
    return await handler(request)


async def _refresh_key(request: web.Request) -> None:
    """Looks the session's access key up again when its cache entry is stale
    (a user's key: gateway/principals.py), so a revoked key ends its sessions
    within the cache time. A metadata failure leaves the session alone."""
    console = request.app[CONSOLE]
    session = console.sessions.get(request.cookies.get(COOKIE_NAME))
    if session is not None:
        with contextlib.suppress(errors.TesseraError):
            await resolve_key(console.gateway, session.access_key)


def _current_session(request: web.Request) -> Session | None:
    """The live session of the request's cookie, if any (and its key still exists)."""
    console = request.app[CONSOLE]
    session = console.sessions.get(request.cookies.get(COOKIE_NAME))
    if session is not None and console.gateway.secret_for(session.access_key) is None:
        console.sessions.delete(session.session_id)  # the key is gone: so is its session
        return None
    return session


def _session(request: web.Request) -> Session:
    """The signed-in session of a request that passed the guard."""
    session = _current_session(request)
    assert session is not None, "the guard lets no request without a session through"
    return session


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > JSON_BODY_MAX_BYTES:
        raise errors.InvalidRequest("The request body is too large.")
    raw = await request.content.read(JSON_BODY_MAX_BYTES + 1)
    if len(raw) > JSON_BODY_MAX_BYTES:
        raise errors.InvalidRequest("The request body is too large.")
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise errors.InvalidRequest("The request body is not JSON.") from exc
    if not isinstance(body, dict):
        raise errors.InvalidRequest("The request body must be a JSON object.")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise errors.InvalidArgument(f"'{name}' must be a string.")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str:
    return _text(body, name) if body.get(name) is not None else ""


# ------------------------------------------------------------------ the page


async def page(request: web.Request) -> web.StreamResponse:
    return _static_response(request, "index.html")


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES or name == "index.html":
        return _json_error(404, "NotFound", "No such file.")
    return _static_response(request, name)


def _static_response(request: web.Request, name: str) -> web.Response:
    body = request.app[CONSOLE].static[name]
    response = web.Response(body=body, content_type=STATIC_FILES[name], charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


# ------------------------------------------------------------------ sessions


def _cross_site(request: web.Request) -> bool:
    """True when the browser says this request came from another site."""
    site = request.headers.get("Sec-Fetch-Site")  # set by the browser, not by scripts
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")  # older browsers: the Origin alone
    if origin is None:
        return False
    if origin == "null":  # a sandboxed frame or a redirect chain: never our own page
        return True
    own = urlsplit(f"http://{request.host}")
    theirs = urlsplit(origin)
    return (theirs.hostname, theirs.port) != (own.hostname, own.port)


async def sign_in(request: web.Request) -> web.StreamResponse:
    """A form post of access_key and secret_key; 303 to the page either way."""
    console = request.app[CONSOLE]
    if _cross_site(request):
        return _json_error(403, "CrossSiteSignIn", "Sign in from the console's own page.")
    form = await request.post()
    access_key = str(form.get("access_key", "")).strip()
    provided = str(form.get("secret_key", ""))
    if access_key:
        with contextlib.suppress(errors.TesseraError):
            await resolve_key(console.gateway, access_key)
    secret = console.gateway.secret_for(access_key) if access_key else None
    # Compare even for an unknown key, so timing does not tell keys apart.
    expected = secret if secret is not None else secrets.token_urlsafe(30)
    matches = hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))
    if secret is None or not matches:
        await asyncio.sleep(SIGNIN_FAILURE_DELAY_SECONDS)
        return _see_other(f"{PREFIX}/?signin=failed")
    old = request.cookies.get(COOKIE_NAME)
    if old:
        console.sessions.delete(old)
    session = console.sessions.create(access_key)
    response = _see_other(f"{PREFIX}/")
    response.set_cookie(
        COOKIE_NAME,
        session.session_id,
        path=f"{PREFIX}/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=int(console.sessions.max_seconds),
    )
    return response


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def session_info(request: web.Request) -> web.StreamResponse:
    session = _current_session(request)
    if session is None:
        return _json_error(401, "NotSignedIn", "Not signed in.")
    console = request.app[CONSOLE]
    return web.json_response(
        {
            "access_key": session.access_key,
            "csrf_token": session.csrf_token,
            "s3_endpoint": s3_endpoint(request, console.gateway),
            "region": console.gateway.settings.region,
            "idle_timeout_seconds": console.sessions.idle_seconds,
            "expires_in_seconds": round(console.sessions.seconds_left(session)),
        }
    )


async def sign_out(request: web.Request) -> web.StreamResponse:
    request.app[CONSOLE].sessions.delete(_session(request).session_id)
    response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE_NAME, path=f"{PREFIX}/")
    return response


# ------------------------------------------------------------------ cluster


def _panel_context(request: web.Request) -> PanelContext:
    console = request.app[CONSOLE]
    return PanelContext(state=console.gateway, rates=console.rates)


async def cluster(request: web.Request) -> web.StreamResponse:
    ctx = _panel_context(request)
    panels = {name: await render_panel(fn, ctx) for name, fn in PANELS.items()}
    return web.json_response({"panels": panels})


async def cluster_panel(request: web.Request) -> web.StreamResponse:
    fn = PANELS.get(request.match_info["panel"])
    if fn is None:
        return _json_error(404, "NoSuchPanel", "There is no such panel.")
    return web.json_response(await render_panel(fn, _panel_context(request)))


# ------------------------------------------------------------------ buckets


async def buckets(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    return web.json_response(await browser.list_buckets(state, _session(request).access_key))


async def create_bucket(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    name = _text(await _json_body(request), "name")
    result = await browser.create_bucket(state, _session(request).access_key, name)
    return web.json_response(result, status=201)


async def objects(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    result = await browser.list_folder(
        state,
        _session(request).access_key,
        request.match_info["bucket"],
        request.query.get("prefix", ""),
        request.query.get("start_after", ""),
    )
    return web.json_response(result)


async def object_details(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    key = request.query.get("key", "")
    result = await browser.object_details(
        state, _session(request).access_key, request.match_info["bucket"], key
    )
    return web.json_response(result)


def _page_origin(request: web.Request) -> str:
    """The page's origin as its browser states it (what it will send on the PUT)."""
    return request.headers.get("Origin") or f"{request.scheme}://{request.host}"


async def upload_url(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    body = await _json_body(request)
    result = await browser.upload_url(
        console.gateway,
        _session(request).access_key,
        bucket=request.match_info["bucket"],
        key=_text(body, "key"),
        endpoint=s3_endpoint(request, console.gateway),
        origin=_page_origin(request),
    )
    return web.json_response(result)


async def download_url(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    body = await _json_body(request)
    expires = body.get("expires_seconds", limits.CONSOLE_LINK_SECONDS_DEFAULT)
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise errors.InvalidArgument("'expires_seconds' must be an integer.")
    result = await browser.download_url(
        console.gateway,
        _session(request).access_key,
        bucket=request.match_info["bucket"],
        key=_text(body, "key"),
        endpoint=s3_endpoint(request, console.gateway),
        expires_seconds=expires,
        attachment=bool(body.get("attachment", False)),
        version_id=_optional_text(body, "version_id"),
    )
    return web.json_response(result)


async def bucket_access(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    result = await browser.get_access(
        state, _session(request).access_key, request.match_info["bucket"]
    )
    return web.json_response(result)


async def set_bucket_access(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    public = (await _json_body(request)).get("public")
    if not isinstance(public, bool):
        raise errors.InvalidArgument("'public' must be true or false.")
    result = await browser.change_access(
        state, _session(request).access_key, request.match_info["bucket"], public
    )
    return web.json_response(result, status=200 if result["available"] else 501)


async def versions(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE].gateway
    result = await browser.versions_of(
        state,
        _session(request).access_key,
        request.match_info["bucket"],
        request.query.get("key", ""),
    )
    return web.json_response(result)


# ------------------------------------------------------------------ assembly


def build_console_app(
    gateway: GatewayState,
    *,
    sessions: SessionStore | None = None,
    rates: RateSampler | None = None,
) -> web.Application:
    """The console as a sub-application, to be mounted at PREFIX."""
    app = web.Application(middlewares=[_guard])
    app[CONSOLE] = ConsoleState(
        gateway,
        SessionStore() if sessions is None else sessions,
        RateSampler() if rates is None else rates,
    )
    r = app.router
    r.add_get("/", page)
    r.add_get("/static/{name}", static_file)
    r.add_post("/api/session", sign_in)
    r.add_get("/api/session", session_info)
    r.add_delete("/api/session", sign_out)
    r.add_get("/api/cluster", cluster)
    r.add_get("/api/cluster/{panel}", cluster_panel)
    r.add_get("/api/buckets", buckets)
    r.add_post("/api/buckets", create_bucket)
    r.add_get("/api/buckets/{bucket}/objects", objects)
    r.add_get("/api/buckets/{bucket}/object", object_details)
    r.add_post("/api/buckets/{bucket}/upload-url", upload_url)
    r.add_post("/api/buckets/{bucket}/download-url", download_url)
    r.add_get("/api/buckets/{bucket}/access", bucket_access)
    r.add_put("/api/buckets/{bucket}/access", set_bucket_access)
    r.add_get("/api/buckets/{bucket}/versions", versions)
    return app


def mount_console(ops: web.Application, gateway: GatewayState, **kwargs: Any) -> None:
    """Mounts the console on an ops application, with /console redirecting to /console/."""

    async def to_page(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/")

    ops.router.add_get(PREFIX, to_page)
    ops.add_subapp(PREFIX, build_console_app(gateway, **kwargs))
