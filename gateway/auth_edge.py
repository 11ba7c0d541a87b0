"""Authentication at the HTTP edge: from an aiohttp request to an access key.

Turns the request into the framework-free view that gateway.auth.sigv4
verifies (raw path as sent, query pairs percent-decoded without treating '+'
as a space), and picks header or pre-signed query authentication. The key's
secret comes from gateway/principals.py (root key, or a user's key from
metadata). Requests with neither form are anonymous: allowed through for the
operations in ANONYMOUS_OPERATIONS — those that act on a bucket, whose
handlers then authorize them (a bucket policy or a public-read ACL must
grant them; gateway/authorization.py) — and refused for everything else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web

from gateway.auth import sigv4
from gateway.state import GatewayState
from tessera import errors
from tessera.policy_actions import OPERATION_ACTIONS

AUTH_RESULT = web.RequestKey("tessera_auth", sigv4.AuthResult)
ANONYMOUS = ""  # the owner id handlers get for an unsigned request
ANONYMOUS_OPERATIONS = frozenset(OPERATION_ACTIONS)
# What an anonymous request's body reader sees: an unsigned payload.
ANONYMOUS_RESULT = sigv4.AuthResult(
    access_key="",
    payload_mode=sigv4.PayloadMode.UNSIGNED,
    expected_payload_sha256=None,
    signing_key=b"",
    scope="",
    seed_signature="",
    amz_date="",
)
KEY_LOOKUP_SECONDS_MAX = 5.0
_HEADER_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def claimed_access_key(request: web.Request) -> str:
    """The access key id a request names (not yet verified); "" for none."""
    found = _HEADER_CREDENTIAL.search(request.headers.get("Authorization", ""))
    if found:
        return found.group(1)
    return request.query.get("X-Amz-Credential", "").split("/", 1)[0]


async def resolve_key(state: GatewayState, access_key: str) -> None:
    """Looks a user's access key up (cached) so that state.secret_for knows it."""
    timeout = min(KEY_LOOKUP_SECONDS_MAX, state.settings.request_timeout_seconds)
    await state.keys.resolve(access_key, timeout=timeout)


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


async def authenticate(request: web.Request, state: GatewayState, operation: str) -> str:
    """The bucket owner id of whoever signed this request (ANONYMOUS for an
    unsigned request to an operation that may be granted to everyone); raises
    the S3 error otherwise."""
    view = request_view(request)
    if not sigv4.is_anonymous(view):
        await resolve_key(state, claimed_access_key(request))
    result = sigv4.verify_request(view, state.secret_for, state.settings.region)
    if result is None:
        if operation in ANONYMOUS_OPERATIONS:
            request[AUTH_RESULT] = ANONYMOUS_RESULT
            return ANONYMOUS
        raise errors.AccessDenied("Anonymous access is not granted to this resource.")
    request[AUTH_RESULT] = result
    return state.keys.owner_for(result.access_key)
