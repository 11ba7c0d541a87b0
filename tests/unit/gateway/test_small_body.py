"""The small-body reader: size limit, signed SHA-256, Content-MD5 and
x-amz-checksum-*, each with S3's error."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.auth_edge import AUTH_RESULT
from gateway.small_body import read_small_body
from tessera import errors

BODY = b"<Tagging><TagSet/></Tagging>"


class Signed:
    def __init__(self, sha256: str | None) -> None:
        self.expected_payload_sha256 = sha256


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async def handler(request: web.Request) -> web.Response:
        signed = request.headers.get("x-test-signed")
        request[AUTH_RESULT] = Signed(signed or None)  # type: ignore[misc,assignment]
        required = request.headers.get("x-test-required") == "1"
        try:
            body = await read_small_body(request, 64, digest_required=required)
        except errors.TesseraError as exc:
            return web.Response(status=exc.http_status, text=exc.code)
        return web.Response(body=body)

    app = web.Application()
    app.router.add_put("/", handler)
    async with TestClient(TestServer(app)) as c:
        yield c


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (BODY, {}, (200, BODY)),
        (BODY, {"x-test-signed": hashlib.sha256(BODY).hexdigest()}, (200, BODY)),
        (
            BODY,
            {"x-test-signed": hashlib.sha256(b"other").hexdigest()},
            (400, b"XAmzContentSHA256Mismatch"),
        ),
        (BODY, {"Content-MD5": md5_of(BODY)}, (200, BODY)),
        (BODY, {"Content-MD5": md5_of(b"other")}, (400, b"BadDigest")),
        (
            BODY,
            {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()},
            (400, b"BadDigest"),
        ),
        (BODY, {"x-test-required": "1"}, (400, b"InvalidRequest")),
        (BODY, {"x-test-required": "1", "Content-MD5": md5_of(BODY)}, (200, BODY)),
        (b"x" * 65, {}, (400, b"MalformedXML")),
    ],
)
async def test_small_bodies(
    client: TestClient[Any, Any], body: bytes, headers: dict[str, str], expected: tuple[int, bytes]
) -> None:
    response = await client.put("/", data=body, headers=headers)
    assert (response.status, await response.read()) == expected
