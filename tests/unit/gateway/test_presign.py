"""Server-side pre-signing (gateway/auth/presign.py): the same signature as
botocore's own presigner, and accepted by the gateway's verifier exactly for
the request it was minted for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from gateway.auth.presign import host_header, presign
from gateway.auth.sigv4 import verify_presigned
from gateway.auth_edge import request_view
from gateway.console.browser import content_disposition
from tessera import errors

REGION = "us-east-1"
ACCESS_KEY = "AKIATESSERAEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2024, 5, 17, 12, 30, 45, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:9000"
KEYS = [
    "plain.txt",
    "with space and  two",
    "plus+sign",
    "tilde~and-dash_under.dot",
    "equals=and&amp;",
    "dir//double///triple/",
    "percent%20literal%",
    "unicode/üñíçødé/日本語/😀",
    "reserved!$'()*,;:@[]",
    "question?hash#",
    "dots/./and/../up",
]


def lookup(access_key: str) -> str | None:
    return {ACCESS_KEY: SECRET_KEY}.get(access_key)


@contextmanager
def botocore_clock(moment: datetime) -> Iterator[None]:
    with patch("botocore.auth.get_current_datetime", lambda: moment.replace(tzinfo=None)):
        yield


def ours(method: str, key: str, **kwargs: object) -> str:
    args: dict[str, object] = {
        "method": method,
        "endpoint": ENDPOINT,
        "bucket": "bucket",
        "key": key,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region": REGION,
        "now": NOW,
        "expires_seconds": 900,
    }
    args.update(kwargs)
    return presign(**args)  # type: ignore[arg-type]


def verify(url: str, method: str, now: datetime = NOW, **headers: str) -> str:
    """The access key the gateway's verifier finds for this URL, as it arrives."""
    parts = urlsplit(url)
    request = make_mocked_request(
        method, f"{parts.path}?{parts.query}", headers={"Host": parts.netloc, **headers}
    )
    view = request_view(request)
    view = type(view)(view.method, view.raw_path, view.query, view.headers, now)
    return verify_presigned(view, lookup, REGION).access_key


def signature_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD"])
def test_same_signature_as_botocore(method: str, key: str) -> None:
    url = f"{ENDPOINT}/bucket/{percent_encode(key, safe='/~')}"
    request = AWSRequest(method=method, url=url)
    with botocore_clock(NOW):
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION, expires=900).add_auth(
            request
        )
    theirs = request.prepare().url
    mine = ours(method, key)
    assert signature_of(mine) == signature_of(theirs)
    assert urlsplit(mine).path == urlsplit(theirs).path


@pytest.mark.parametrize("key", KEYS)
def test_verifier_accepts_exactly_the_minted_request(key: str) -> None:
    url = ours("GET", key)
    assert verify(url, "GET") == ACCESS_KEY
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify(url, "PUT")
    with pytest.raises(errors.AccessDenied):  # expired
        verify(url, "GET", now=NOW + timedelta(seconds=901))


def test_extra_query_is_signed() -> None:
    disposition = content_disposition("dir/report 2026.pdf")
    url = ours("GET", "dir/report 2026.pdf", query=[("response-content-disposition", disposition)])
    assert verify(url, "GET") == ACCESS_KEY
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify(url.replace("attachment", "inline"), "GET")


def test_origin_bound_url_needs_that_origin() -> None:
    origin = "http://127.0.0.1:9001"
    url = ours("PUT", "up.bin", signed_headers={"origin": origin})
    assert "X-Amz-SignedHeaders=host%3Borigin" in url
    assert verify(url, "PUT", Origin=origin) == ACCESS_KEY
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify(url, "PUT", Origin="https://evil.example")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify(url, "PUT")  # no Origin: curl cannot reuse a console upload URL either


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("http://127.0.0.1:9000", "127.0.0.1:9000"),
        ("http://S3.Example.com:80", "s3.example.com"),
        ("https://s3.example.com:443/", "s3.example.com"),
        ("https://s3.example.com:8443", "s3.example.com:8443"),
        ("http://[::1]:9000", "[::1]:9000"),
    ],
)
def test_host_header(endpoint: str, host: str) -> None:
    assert host_header(endpoint) == host


def test_content_disposition_names_the_file() -> None:
    assert content_disposition("a/b/report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    assert content_disposition('x/"quoted" ü.txt') == (
        "attachment; filename=\"_quoted_ _.txt\"; filename*=UTF-8''%22quoted%22%20%C3%BC.txt"
    )
