"""The console's HTTP API in process (aiohttp test client, no cluster):
sign-in, the session cookie, CSRF, expiry, and what never leaves the server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.console.server import COOKIE_NAME, CSRF_HEADER, mount_console
from gateway.console.sessions import SessionStore
from gateway.principals import KeyCache
from gateway.state import GatewayState
from tessera.config import GatewaySettings
from tessera.sealing import Sealer

ACCESS_KEY = "TSCONSOLETEST"
SECRET_KEY = "console-secret-Zq8w3Xk1pL0vN5"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_gateway() -> GatewayState:
    settings = GatewaySettings(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        cluster_secret="cluster-secret-never-shown",
        listen="127.0.0.1:9000",
    )
    credentials = {ACCESS_KEY: SECRET_KEY}
    state = SimpleNamespace(
        settings=settings,
        credentials=credentials,
        secret_for=credentials.get,
        keys=KeyCache(None, Sealer("cluster-secret-never-shown"), credentials),
        cluster=SimpleNamespace(loaded=False),
        metadata=_UnreachableMetadata(),
    )
    return cast(GatewayState, state)


class _UnreachableMetadata:
    """Metadata as a gateway sees it when no replica answers."""

    async def replica_statuses(self, *, timeout: float) -> list[dict[str, Any]]:  # noqa: ASYNC109
        return []

    async def repair_status(self, *, timeout: float) -> None:  # noqa: ASYNC109
        return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    ops = web.Application()
    store = SessionStore(idle_seconds=60, max_seconds=600, clock=clock)
    mount_console(ops, fake_gateway(), sessions=store)
    async with TestClient(TestServer(ops)) as c:
        yield c


async def sign_in(client: TestClient[Any, Any], secret: str = SECRET_KEY, **headers: str) -> Any:
    return await client.post(
        "/console/api/session",
        data={"access_key": ACCESS_KEY, "secret_key": secret},
        allow_redirects=False,
        headers=headers,
    )


async def test_sign_in_sets_a_strict_http_only_cookie(client: TestClient[Any, Any]) -> None:
    response = await sign_in(client)
    assert response.status == 303 and response.headers["Location"] == "/console/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
    info = await client.get("/console/api/session")
    assert info.status == 200
    body = await info.json()
    assert body["access_key"] == ACCESS_KEY and len(body["csrf_token"]) >= 40
    assert body["s3_endpoint"] == "http://127.0.0.1:9000"  # the console's host, the S3 port
    odd = await client.get("/console/api/session", headers={"Host": "x;script-src *:1"})
    assert (await odd.json())["s3_endpoint"] == "http://127.0.0.1:9000"
    assert "script-src *" not in odd.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("access_key", "secret"),
    [(ACCESS_KEY, "wrong"), ("NOSUCHKEY", SECRET_KEY), ("", ""), (ACCESS_KEY, "")],
)
async def test_sign_in_failure(client: TestClient[Any, Any], access_key: str, secret: str) -> None:
    response = await client.post(
        "/console/api/session",
        data={"access_key": access_key, "secret_key": secret},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/console/?signin=failed"
    assert "Set-Cookie" not in response.headers
    assert (await client.get("/console/api/session")).status == 401
    assert (await client.get("/console/api/cluster")).status == 401


async def test_cross_site_sign_in_is_refused(client: TestClient[Any, Any]) -> None:
    """Login CSRF: another site's form must not sign the browser in."""
    response = await sign_in(client, **{"Sec-Fetch-Site": "cross-site"})
    assert response.status == 403 and "Set-Cookie" not in response.headers
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{client.port + 1}"):
        response = await sign_in(client, Origin=origin)
        assert response.status == 403 and "Set-Cookie" not in response.headers
    response = await sign_in(client, **{"Sec-Fetch-Site": "same-site"})
    assert response.status == 403 and "Set-Cookie" not in response.headers
    response = await sign_in(client, Origin=f"http://127.0.0.1:{client.port}")
    assert response.status == 303 and "Set-Cookie" in response.headers
    response = await sign_in(client, **{"Sec-Fetch-Site": "same-origin", "Origin": "null"})
    assert response.status == 303 and "Set-Cookie" in response.headers


async def test_state_changing_requests_need_the_csrf_token(client: TestClient[Any, Any]) -> None:
    await sign_in(client)
    token = (await (await client.get("/console/api/session")).json())["csrf_token"]
    for method, path in [
        ("DELETE", "/console/api/session"),
        ("POST", "/console/api/buckets"),
        ("POST", "/console/api/buckets/b/upload-url"),
        ("POST", "/console/api/buckets/b/download-url"),
        ("PUT", "/console/api/buckets/b/access"),
    ]:
        for headers in ({}, {CSRF_HEADER: "forged"}, {CSRF_HEADER: token[:-1]}):
            response = await client.request(method, path, json={}, headers=headers)
            assert response.status == 403, (method, path, headers)
            assert (await response.json())["error"] == "InvalidCSRFToken"
    # Still signed in: the refused requests changed nothing.
    assert (await client.get("/console/api/session")).status == 200
    response = await client.delete("/console/api/session", headers={CSRF_HEADER: token})
    assert response.status == 200
    assert (await client.get("/console/api/session")).status == 401


async def test_session_expires_when_idle_and_at_its_maximum_age(
    client: TestClient[Any, Any], clock: FakeClock
) -> None:
    await sign_in(client)
    clock.now += 59
    assert (await client.get("/console/api/session")).status == 200  # use renews idle time
    clock.now += 59
    assert (await client.get("/console/api/session")).status == 200
    clock.now += 60
    assert (await client.get("/console/api/session")).status == 401
    assert (await client.get("/console/api/cluster")).status == 401

    await sign_in(client)
    for _ in range(11):  # kept busy, it still ends at max_seconds (600)
        clock.now += 50
        assert (await client.get("/console/api/session")).status == 200
    clock.now += 50
    assert (await client.get("/console/api/session")).status == 401


async def test_no_secret_in_any_response(client: TestClient[Any, Any]) -> None:
    await sign_in(client)
    token = (await (await client.get("/console/api/session")).json())["csrf_token"]
    paths = [
        "/console/",
        "/console/static/console.js",
        "/console/static/console.css",
        "/console/static/index.html",
        "/console/api/session",
        "/console/api/cluster",
        "/console/api/cluster/metadata",
        "/console/api/cluster/nodes",
        "/console/api/cluster/repair",
    ]
    for path in paths:
        response = await client.get(path)
        text = await response.text()
        everything = text + str(dict(response.headers))
        assert SECRET_KEY not in everything, path
        assert "cluster-secret-never-shown" not in everything, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    page = await (await client.get("/console/")).text()
    assert not re.search(r"<script>(?!</script>)", page), "no inline script"
    response = await client.delete("/console/api/session", headers={CSRF_HEADER: token})
    assert SECRET_KEY not in await response.text()


async def test_unavailable_panels_say_so(client: TestClient[Any, Any]) -> None:
    await sign_in(client)
    panels = (await (await client.get("/console/api/cluster")).json())["panels"]
    assert set(panels) == {"nodes", "metadata", "repair", "margins", "requests"}
    for name in ("metadata", "repair", "margins"):  # the fake gateway reaches no metadata
        assert panels[name]["available"] is False and panels[name]["reason"], name
    assert panels["nodes"]["available"] is False  # the fake gateway has no map
    assert panels["requests"]["available"] is True
    assert (await client.get("/console/api/cluster/nope")).status == 404
