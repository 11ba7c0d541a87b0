"""Authentication at the HTTP edge: from an aiohttp request to an access key.

Turns the request into the framework-free view that gateway.auth.sigv4
verifies (raw path as sent, query pairs percent-decoded without treating '+'
as a space), and picks header or pre-signed query authentication. Requests
with neither are anonymous, which nothing grants yet: AccessDenied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web

from gateway.auth import sigv4
from gateway.state import GatewayState
from tessera import errors

AUTH_RESULT = web.RequestKey("tessera_auth", sigv4.AuthResult)


def request_view(request: web.Request) -> sigv4.RequestView:
    raw = request.raw_path
    path, _, raw_query = raw.partition("?")
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return sigv4.RequestView(
        method=request.method,
        raw_path=path,
        query=pairs,
        headers=request.headers,
        now=datetime.now(UTC),
    )


async def authenticate(request: web.Request, state: GatewayState) -> str:
    """The access key that signed this request; raises the S3 error otherwise."""
    view = request_view(request)
    result = sigv4.verify_request(view, state.secret_for, state.settings.region)
    if result is None:
        raise errors.AccessDenied("Anonymous access is not granted to this resource.")
    request[AUTH_RESULT] = result
    return result.access_key
