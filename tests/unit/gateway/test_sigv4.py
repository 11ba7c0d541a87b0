"""SigV4 verification against botocore's own signer as the reference.

Requests are signed by botocore (S3SigV4Auth, S3SigV4QueryAuth, and the full
boto3 client pipeline captured at before-send), then handed to aiohttp's
request parser (make_mocked_request, no socket) so RequestView holds exactly
what the gateway will see: the raw path as sent, aiohttp's decoded query and
its case-insensitive multidict of headers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from unittest.mock import patch
from urllib.parse import urlsplit

import botocore.session
import pytest
from aiohttp.test_utils import make_mocked_request
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.auth import canonical
from gateway.auth.sigv4 import (
    AuthResult,
    PayloadMode,
    RequestView,
    is_anonymous,
    verify_header_auth,
    verify_presigned,
    verify_request,
)
from tessera import errors

REGION = "us-east-1"
ACCESS_KEY = "AKIATESSERAEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = Credentials(ACCESS_KEY, SECRET_KEY)
NOW = datetime(2024, 5, 17, 12, 30, 45, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:9000"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

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
    "..",
    "trailing/",
    "a" * 300,
]


def lookup(access_key: str) -> str | None:
    return {ACCESS_KEY: SECRET_KEY}.get(access_key)


@contextmanager
def botocore_clock(moment: datetime) -> Iterator[None]:
    """Freezes the time botocore signs with: its Python signer reads a naive
    UTC datetime; the awscrt-based signer it prefers when awscrt is installed
    (Tessera depends on awscrt) reads an aware one."""

    def clock(remove_tzinfo: bool = True) -> datetime:
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    with (
        patch("botocore.auth.get_current_datetime", clock),
        patch("botocore.crt.auth.get_current_datetime", clock),
    ):
        yield


def object_url(key: str, bucket: str = "bucket", endpoint: str = ENDPOINT) -> str:
    # The key as botocore's REST serializer puts it in the URL.
    return f"{endpoint}/{bucket}/{percent_encode(key, safe='/~')}"


class FixedPayloadAuth(S3SigV4Auth):
    """botocore's S3 signer, with a chosen x-amz-content-sha256 (e.g. streaming modes)."""

    def __init__(self, payload_hash: str) -> None:
        super().__init__(CREDENTIALS, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def sign_header(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    params: list[tuple[str, str]] | None = None,
    signer: S3SigV4Auth | None = None,
    at: datetime = NOW,
) -> AWSPreparedRequest:
    request = AWSRequest(method=method, url=url, headers=headers, data=body, params=params)
    with botocore_clock(at):
        (signer or S3SigV4Auth(CREDENTIALS, "s3", REGION)).add_auth(request)
    return request.prepare()


def presign(
    method: str,
    url: str,
    *,
    expires: int = 3600,
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | dict[str, str] | None = None,
    at: datetime = NOW,
) -> AWSPreparedRequest:
    request = AWSRequest(method=method, url=url, headers=headers, params=params)
    with botocore_clock(at):
        S3SigV4QueryAuth(CREDENTIALS, "s3", REGION, expires=expires).add_auth(request)
    return request.prepare()


def as_view(
    prepared: AWSPreparedRequest,
    *,
    now: datetime = NOW,
    extra_headers: list[tuple[str, str]] | None = None,
) -> RequestView:
    """What aiohttp presents for this request once it has crossed the wire."""
    parts = urlsplit(prepared.url)
    headers: CIMultiDict[str] = CIMultiDict()
    if "host" not in {name.lower() for name in prepared.headers}:
        headers["Host"] = parts.netloc  # what the HTTP client adds
    for name, value in prepared.headers.items():
        headers.add(name, value.decode() if isinstance(value, bytes) else value)
    headers.add("User-Agent", "Boto3/1.0 test")  # never signed by botocore
    headers.add("Accept-Encoding", "identity")  # added by urllib3 after signing
    for name, value in extra_headers or []:
        headers.add(name, value)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = make_mocked_request(prepared.method, target, headers=headers)
    return RequestView(
        method=request.method,
        raw_path=request.raw_path,
        query=list(request.query.items()),
        headers=request.headers,
        now=now,
    )


def with_headers(view: RequestView, **changes: str | None) -> RequestView:
    """The view with headers replaced (None removes); names use '_' for '-'."""
    headers: CIMultiDict[str] = CIMultiDict(view.headers)
    for name, value in changes.items():
        header = name.replace("_", "-")
        headers.popall(header, None)
        if value is not None:
            headers[header] = value
    return dataclasses.replace(view, headers=headers)


# --- header auth: accepted --------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE", "POST"])
def test_header_auth_accepts_botocore_signature(method: str, key: str) -> None:
    body = b"payload bytes" if method in ("PUT", "POST") else b""
    prepared = sign_header(method, object_url(key), body=body)

    result = verify_header_auth(as_view(prepared), lookup, REGION)

    assert result.access_key == ACCESS_KEY
    assert result.payload_mode == PayloadMode.SHA256
    assert result.expected_payload_sha256 == hashlib.sha256(body).hexdigest()
    assert result.scope == f"20240517/{REGION}/s3/aws4_request"
    assert result.amz_date == "20240517T123045Z"
    assert result.seed_signature == prepared.headers["Authorization"].rsplit("=", 1)[1]
    assert result.signing_key == canonical.signing_key(SECRET_KEY, "20240517", REGION)


QUERIES = [
    [("list-type", "2")],
    [("list-type", "2"), ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")],
    [("list-type", "2"), ("prefix", "a b+c/ü"), ("delimiter", "/"), ("start-after", "k=v&x")],
    [("uploads", "")],
    [
        ("acl", ""),
        ("versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"),
    ],
    [("delete", "")],
    [("partNumber", "3"), ("uploadId", "VXBsb2FkIElE=.~_-")],
    [("tagging", ""), ("x", "")],
    [("response-content-disposition", 'attachment; filename="ü.txt"')],
    [("dup", "b"), ("dup", "a"), ("dup", "")],
    [("Z", "1"), ("a", "2"), ("_", "3"), ("~", "4"), ("%", "5")],
]


@pytest.mark.parametrize("params", QUERIES)
def test_header_auth_canonicalises_query_like_botocore(params: list[tuple[str, str]]) -> None:
    prepared = sign_header("GET", f"{ENDPOINT}/bucket", params=params)
    assert verify_header_auth(as_view(prepared), lookup, REGION).access_key == ACCESS_KEY


@pytest.mark.parametrize("params", QUERIES)
def test_header_auth_query_already_in_url(params: list[tuple[str, str]]) -> None:
    # The real botocore client builds the query into the URL (no params): the
    # signer then canonicalises the raw query string instead.
    url = f"{ENDPOINT}/bucket?" + "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in params
    )
    prepared = sign_header("GET", url)
    assert verify_header_auth(as_view(prepared), lookup, REGION).access_key == ACCESS_KEY


def test_header_auth_signed_headers_and_whitespace() -> None:
    headers = {
        "Content-Type": "text/plain;  charset=utf-8",
        "X-Amz-Meta-Note": "  spaced   out   value  ",
        "X-Amz-Meta-Unicode": "caf\u00e9".encode().decode("latin-1"),
        "Range": "bytes=0-99",
        "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
        "If-None-Match": '"abc"',
    }
    prepared = sign_header("PUT", object_url("k"), headers=headers, body=b"x")
    assert verify_header_auth(as_view(prepared), lookup, REGION).access_key == ACCESS_KEY


class RepeatedHeaderAuth(S3SigV4Auth):
    """botocore's signer over a header sent twice (AWSRequest itself keeps one value)."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        headers["x-amz-meta-multi"] = "  second   value "  # HTTPMessage appends
        return headers


def test_header_auth_repeated_header_values_are_joined() -> None:
    prepared = sign_header(
        "GET",
        object_url("k"),
        headers={"X-Amz-Meta-Multi": "first"},
        signer=RepeatedHeaderAuth(CREDENTIALS, "s3", REGION),
    )
    view = as_view(prepared, extra_headers=[("X-Amz-Meta-Multi", "second   value")])
    assert view.headers.getall("x-amz-meta-multi") == ["first", "second   value"]  # type: ignore[attr-defined]
    assert verify_header_auth(view, lookup, REGION).access_key == ACCESS_KEY
    single = with_headers(view, X_Amz_Meta_Multi="first")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_header_auth(single, lookup, REGION)


def test_header_auth_accepts_plain_lowercase_dict_of_headers() -> None:
    view = as_view(sign_header("GET", object_url("k")))
    plain = {name.lower(): value for name, value in view.headers.items()}
    result = verify_header_auth(dataclasses.replace(view, headers=plain), lookup, REGION)
    assert result.access_key == ACCESS_KEY


def test_header_auth_with_date_header_instead_of_x_amz_date() -> None:
    prepared = sign_header("GET", object_url("k"), headers={"Date": "placeholder"})
    assert "X-Amz-Date" not in prepared.headers
    result = verify_header_auth(as_view(prepared), lookup, REGION)
    assert result.amz_date == "20240517T123045Z"


def test_header_auth_virtual_hosted_style() -> None:
    prepared = sign_header("GET", "http://bucket.s3.tessera.test:9000/some%20key")
    assert verify_header_auth(as_view(prepared), lookup, REGION).access_key == ACCESS_KEY


def test_raw_path_with_query_is_accepted_as_aiohttp_gives_it() -> None:
    view = as_view(sign_header("GET", f"{ENDPOINT}/bucket", params=[("list-type", "2")]))
    assert view.raw_path == "/bucket?list-type=2"
    assert verify_header_auth(view, lookup, REGION).access_key == ACCESS_KEY
    bare = dataclasses.replace(view, raw_path="/bucket")
    assert verify_header_auth(bare, lookup, REGION).access_key == ACCESS_KEY


def test_client_that_signs_its_unencoded_path_is_accepted() -> None:
    # Some clients send '!' or '%7E' and sign the path exactly as sent; it
    # decodes to the same key, so the signature still binds the same object.
    url = f"{ENDPOINT}/bucket/a!b%7Ec"
    request = AWSRequest(method="GET", url=url)
    with botocore_clock(NOW):
        S3SigV4Auth(CREDENTIALS, "s3", REGION).add_auth(request)
    assert verify_header_auth(as_view(request.prepare()), lookup, REGION)


@pytest.mark.parametrize(
    ("payload_hash", "mode"),
    [
        ("UNSIGNED-PAYLOAD", PayloadMode.UNSIGNED),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", PayloadMode.STREAMING_SIGNED),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", PayloadMode.STREAMING_SIGNED_TRAILER),
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", PayloadMode.STREAMING_UNSIGNED_TRAILER),
    ],
)
def test_header_auth_payload_modes(payload_hash: str, mode: PayloadMode) -> None:
    prepared = sign_header(
        "PUT",
        object_url("streamed"),
        headers={"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"},
        body=b"ignored",
        signer=FixedPayloadAuth(payload_hash),
    )
    result = verify_header_auth(as_view(prepared), lookup, REGION)
    assert result.payload_mode == mode
    assert result.expected_payload_sha256 is None
    assert result.seed_signature == prepared.headers["Authorization"].rsplit("=", 1)[1]


def test_header_auth_uppercase_hex_payload_hash_is_returned_lowercase() -> None:
    digest = hashlib.sha256(b"abc").hexdigest().upper()
    prepared = sign_header("PUT", object_url("k"), body=b"abc", signer=FixedPayloadAuth(digest))
    result = verify_header_auth(as_view(prepared), lookup, REGION)
    assert result.expected_payload_sha256 == digest.lower()


def test_skew_just_inside_the_limit_is_accepted() -> None:
    prepared = sign_header("GET", object_url("k"))
    for offset in (timedelta(minutes=14, seconds=59), -timedelta(minutes=14, seconds=59)):
        assert verify_header_auth(as_view(prepared, now=NOW + offset), lookup, REGION)


# --- header auth: rejected --------------------------------------------------------


def signed_put_view() -> RequestView:
    prepared = sign_header(
        "PUT",
        object_url("dir/ünï cödé+key"),
        params=[("partNumber", "2"), ("uploadId", "abc/=def")],
        headers={"Content-Type": "application/octet-stream", "X-Amz-Meta-Color": "blue"},
        body=b"hello",
    )
    return as_view(prepared)


def tamperings(view: RequestView) -> dict[str, RequestView]:
    replace = dataclasses.replace
    other_hash = hashlib.sha256(b"other").hexdigest()
    return {
        "method": replace(view, method="POST"),
        "path char": replace(view, raw_path=view.raw_path.replace("dir", "dis", 1)),
        "path trailing slash": replace(view, raw_path=view.raw_path.split("?")[0] + "/"),
        "path double slash": replace(view, raw_path=view.raw_path.replace("/dir", "//dir")),
        "path case": replace(view, raw_path=view.raw_path.replace("dir", "Dir", 1)),
        "query value": replace(view, query=[("partNumber", "3"), ("uploadId", "abc/=def")]),
        "query name": replace(view, query=[("partnumber", "2"), ("uploadId", "abc/=def")]),
        "query added": replace(view, query=[*view.query, ("acl", "")]),
        "query removed": replace(view, query=view.query[:1]),
        "host": with_headers(view, Host="127.0.0.1:9001"),
        "content-type": with_headers(view, Content_Type="text/html"),
        "x-amz-meta": with_headers(view, X_Amz_Meta_Color="red"),
        "x-amz-date second": with_headers(view, X_Amz_Date="20240517T123046Z"),
        "payload hash": with_headers(view, X_Amz_Content_Sha256=other_hash),
        "unsigned payload": with_headers(view, X_Amz_Content_Sha256="UNSIGNED-PAYLOAD"),
        "signature": with_headers(
            view,
            Authorization=view.headers["Authorization"][:-1]
            + ("0" if view.headers["Authorization"][-1] != "0" else "1"),
        ),
    }


@pytest.mark.parametrize("element", sorted(tamperings(signed_put_view())))
def test_any_signed_element_changed_fails(element: str) -> None:
    view = signed_put_view()
    assert verify_header_auth(view, lookup, REGION)  # the untouched request passes
    with pytest.raises(errors.SignatureDoesNotMatch) as raised:
        verify_header_auth(tamperings(view)[element], lookup, REGION)
    details = raised.value.details
    assert details["AWSAccessKeyId"] == ACCESS_KEY
    assert details["StringToSign"].startswith("AWS4-HMAC-SHA256\n20240517T")
    assert "CanonicalRequest" in details


def test_unsigned_headers_and_query_order_may_change() -> None:
    view = signed_put_view()
    changed = with_headers(view, User_Agent="something else", Accept="*/*")
    reordered = dataclasses.replace(changed, query=list(reversed(view.query)))
    assert verify_header_auth(reordered, lookup, REGION)


def test_wrong_secret_fails() -> None:
    view = signed_put_view()
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_header_auth(view, {ACCESS_KEY: "not-the-secret"}.get, REGION)


def test_unknown_access_key() -> None:
    with pytest.raises(errors.InvalidAccessKeyId) as raised:
        verify_header_auth(signed_put_view(), lambda _: None, REGION)
    assert raised.value.details == {"AWSAccessKeyId": ACCESS_KEY}


@pytest.mark.parametrize("offset", [timedelta(minutes=15, seconds=1), -timedelta(hours=3)])
def test_clock_skew_too_large(offset: timedelta) -> None:
    prepared = sign_header("GET", object_url("k"))
    with pytest.raises(errors.RequestTimeTooSkewed) as raised:
        verify_header_auth(as_view(prepared, now=NOW + offset), lookup, REGION)
    assert raised.value.details["MaxAllowedSkewMilliseconds"] == "900000"
    assert raised.value.details["RequestTime"] == "20240517T123045Z"


def test_region_mismatch_is_malformed_with_s3_message() -> None:
    with pytest.raises(errors.AuthorizationHeaderMalformed) as raised:
        verify_header_auth(signed_put_view(), lookup, "eu-west-1")
    assert raised.value.message == (
        "The authorization header is malformed; the region 'us-east-1' is wrong; "
        "expecting 'eu-west-1'"
    )
    assert raised.value.details == {"Region": "eu-west-1"}


def auth_header(view: RequestView) -> str:
    return view.headers["Authorization"]


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda a: a.replace(", Signature=", ", Sig="), errors.AuthorizationHeaderMalformed),
        (lambda a: a.split(", Signature=")[0], errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("SignedHeaders", "Signed"), errors.AuthorizationHeaderMalformed),
        (lambda a: a + ", Signature=abc", errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("Credential=", "Credential"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("/20240517/", "/2024-05-17/"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("/20240517/", "/20240518/"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("/s3/", "/ec2/"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("/aws4_request", "/aws4_reqest"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace("/us-east-1/", "/"), errors.AuthorizationHeaderMalformed),
        (lambda a: a.replace(f"{ACCESS_KEY}/", "/"), errors.AuthorizationHeaderMalformed),
        (
            lambda a: a.replace("SignedHeaders=", "SignedHeaders=;"),
            errors.AuthorizationHeaderMalformed,
        ),
        (lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), errors.InvalidArgument),
        (lambda a: "Bearer abc", errors.InvalidArgument),
        (lambda a: f"AWS {ACCESS_KEY}:c2lnbmF0dXJl", errors.InvalidRequest),
        (lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), errors.NotImplemented),
    ],
)
def test_malformed_authorization_header(mangle: Any, error: type[errors.TesseraError]) -> None:
    view = signed_put_view()
    with pytest.raises(error):
        verify_header_auth(
            with_headers(view, Authorization=mangle(auth_header(view))), lookup, REGION
        )


def test_missing_x_amz_content_sha256_is_invalid_request() -> None:
    # S3 answers 400 InvalidRequest "Missing required header for this request:
    # x-amz-content-sha256" (not MissingSecurityHeader).
    view = with_headers(signed_put_view(), X_Amz_Content_Sha256=None)
    with pytest.raises(errors.InvalidRequest) as raised:
        verify_header_auth(view, lookup, REGION)
    assert "x-amz-content-sha256" in raised.value.message


@pytest.mark.parametrize("value", ["", "abc", "z" * 64, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"])
def test_invalid_x_amz_content_sha256(value: str) -> None:
    view = with_headers(signed_put_view(), X_Amz_Content_Sha256=value)
    with pytest.raises(errors.InvalidArgument):
        verify_header_auth(view, lookup, REGION)


@pytest.mark.parametrize(
    "changes",
    [
        {"X_Amz_Date": None},
        {"X_Amz_Date": "2024-05-17T12:30:45Z"},
        {"X_Amz_Date": "20241317T123045Z"},
        {"X_Amz_Date": None, "Date": "not a date"},
    ],
)
def test_missing_or_invalid_date_is_access_denied(changes: dict[str, str | None]) -> None:
    view = with_headers(signed_put_view(), **changes)
    with pytest.raises(errors.AccessDenied) as raised:
        verify_header_auth(view, lookup, REGION)
    assert raised.value.message == "AWS authentication requires a valid Date or x-amz-date header"


def test_unsigned_x_amz_header_is_access_denied() -> None:
    view = with_headers(signed_put_view(), X_Amz_Meta_Injected="1", X_Amz_Acl="public-read")
    with pytest.raises(errors.AccessDenied) as raised:
        verify_header_auth(view, lookup, REGION)
    assert raised.value.message == "There were headers present in the request which were not signed"
    assert raised.value.details == {"HeadersNotSigned": "x-amz-acl, x-amz-meta-injected"}


def test_host_must_be_signed() -> None:
    view = signed_put_view()
    auth = auth_header(view).replace("host;", "")
    with pytest.raises(errors.AccessDenied) as raised:
        verify_header_auth(with_headers(view, Authorization=auth), lookup, REGION)
    assert raised.value.details == {"HeadersNotSigned": "host"}


# --- presigned URLs -----------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT", "HEAD", "DELETE"])
def test_presigned_accepts_botocore_url(method: str, key: str) -> None:
    prepared = presign(method, object_url(key), expires=900)
    result = verify_presigned(as_view(prepared), lookup, REGION)
    assert result.access_key == ACCESS_KEY
    assert result.payload_mode == PayloadMode.UNSIGNED
    assert result.expected_payload_sha256 is None
    assert result.amz_date == "20240517T123045Z"


@pytest.mark.parametrize("params", QUERIES)
def test_presigned_with_operation_params(params: list[tuple[str, str]]) -> None:
    # botocore's presigner keeps one value per name (it goes through a dict).
    prepared = presign("GET", f"{ENDPOINT}/bucket/key", params=dict(params))
    assert verify_presigned(as_view(prepared), lookup, REGION).access_key == ACCESS_KEY


def test_presigned_with_signed_headers() -> None:
    headers = {"Content-Type": "image/png", "X-Amz-Meta-Owner": "me"}
    prepared = presign("PUT", object_url("upload.png"), headers=headers)
    view = as_view(prepared)
    assert verify_presigned(view, lookup, REGION)
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_presigned(with_headers(view, Content_Type="text/html"), lookup, REGION)


def test_presigned_payload_hash_from_header() -> None:
    digest = hashlib.sha256(b"data").hexdigest()
    prepared = presign("PUT", object_url("k"), headers={"X-Amz-Content-SHA256": digest})
    result = verify_presigned(as_view(prepared), lookup, REGION)
    assert result.payload_mode == PayloadMode.SHA256
    assert result.expected_payload_sha256 == digest


def test_presigned_expiry_window() -> None:
    prepared = presign("GET", object_url("k"), expires=600)
    assert verify_presigned(as_view(prepared, now=NOW + timedelta(seconds=600)), lookup, REGION)
    with pytest.raises(errors.AccessDenied) as raised:
        verify_presigned(as_view(prepared, now=NOW + timedelta(seconds=601)), lookup, REGION)
    assert raised.value.message == "Request has expired"
    assert raised.value.details["X-Amz-Expires"] == "600"


def test_presigned_not_yet_valid() -> None:
    prepared = presign("GET", object_url("k"), expires=600)
    assert verify_presigned(as_view(prepared, now=NOW - timedelta(minutes=14)), lookup, REGION)
    with pytest.raises(errors.AccessDenied):
        verify_presigned(as_view(prepared, now=NOW - timedelta(minutes=16)), lookup, REGION)


def test_presigned_a_week_is_the_maximum() -> None:
    week = 7 * 24 * 3600
    ok = presign("GET", object_url("k"), expires=week)
    assert verify_presigned(as_view(ok, now=NOW + timedelta(days=6)), lookup, REGION)
    too_long = presign("GET", object_url("k"), expires=week + 1)
    with pytest.raises(errors.AuthorizationQueryParametersError) as raised:
        verify_presigned(as_view(too_long), lookup, REGION)
    assert raised.value.http_status == 400
    assert "604800" in raised.value.message


def presigned_view() -> RequestView:
    return as_view(presign("GET", object_url("a key"), params={"versionId": "v1"}))


def replace_param(view: RequestView, name: str, value: str | None) -> RequestView:
    query = [(n, v) for n, v in view.query if n != name]
    if value is not None:
        query.append((name, value))
    return dataclasses.replace(view, query=query)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("X-Amz-Signature", "0" * 64, errors.SignatureDoesNotMatch),
        ("versionId", "v2", errors.SignatureDoesNotMatch),
        ("X-Amz-Date", "20240517T123046Z", errors.SignatureDoesNotMatch),
        ("X-Amz-Expires", "3601", errors.SignatureDoesNotMatch),
        ("X-Amz-SignedHeaders", "host;range", errors.SignatureDoesNotMatch),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", errors.AuthorizationQueryParametersError),
        ("X-Amz-Date", "2024-05-17", errors.AuthorizationQueryParametersError),
        ("X-Amz-Expires", "soon", errors.AuthorizationQueryParametersError),
        ("X-Amz-Expires", "-1", errors.AuthorizationQueryParametersError),
        ("X-Amz-Credential", "nope", errors.AuthorizationQueryParametersError),
        ("X-Amz-Credential", f"{ACCESS_KEY}/20240517/eu-west-1/s3/aws4_request",
         errors.AuthorizationQueryParametersError),
        ("X-Amz-Credential", "OTHERKEY/20240517/us-east-1/s3/aws4_request",
         errors.InvalidAccessKeyId),
        ("X-Amz-Signature", None, errors.AuthorizationQueryParametersError),
        ("X-Amz-Expires", None, errors.AuthorizationQueryParametersError),
    ],
)  # fmt: skip
def test_presigned_tampered_or_malformed(
    name: str, value: str | None, error: type[errors.TesseraError]
) -> None:
    with pytest.raises(error):
        verify_presigned(replace_param(presigned_view(), name, value), lookup, REGION)


def test_presigned_path_and_added_param_fail() -> None:
    view = presigned_view()
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_presigned(dataclasses.replace(view, raw_path="/bucket/a%20kez"), lookup, REGION)
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_presigned(dataclasses.replace(view, query=[*view.query, ("x", "")]), lookup, REGION)


def test_presigned_duplicate_auth_param_is_rejected() -> None:
    view = presigned_view()
    doubled = dataclasses.replace(view, query=[*view.query, ("X-Amz-Date", "20240517T123045Z")])
    with pytest.raises(errors.AuthorizationQueryParametersError):
        verify_presigned(doubled, lookup, REGION)


def test_presigned_unsigned_x_amz_header_is_access_denied() -> None:
    view = with_headers(presigned_view(), X_Amz_Acl="public-read")
    with pytest.raises(errors.AccessDenied):
        verify_presigned(view, lookup, REGION)


# --- choosing the form ------------------------------------------------------------------


def test_verify_request_dispatch() -> None:
    anonymous = as_view(AWSRequest(method="GET", url=object_url("k")).prepare())
    assert is_anonymous(anonymous)
    assert verify_request(anonymous, lookup, REGION) is None

    header = signed_put_view()
    query = presigned_view()
    assert not is_anonymous(header) and not is_anonymous(query)
    assert isinstance(verify_request(header, lookup, REGION), AuthResult)
    assert isinstance(verify_request(query, lookup, REGION), AuthResult)

    both = dataclasses.replace(header, query=[*header.query, *query.query])
    with pytest.raises(errors.InvalidArgument):
        verify_request(both, lookup, REGION)

    sigv2 = dataclasses.replace(anonymous, query=[("AWSAccessKeyId", "x"), ("Signature", "y")])
    assert not is_anonymous(sigv2)
    with pytest.raises(errors.InvalidRequest):
        verify_request(sigv2, lookup, REGION)


# --- the real boto3 client pipeline ------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


_EMPTY_LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>bucket</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
    b"</ListBucketResult>"
)


@cache
def captured_client(endpoint: str, signature_version: str | None = None) -> tuple[Any, list[Any]]:
    """A real botocore S3 client whose requests stop at before-send, unsent."""
    client = botocore.session.get_session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            signature_version=signature_version,
        ),
    )
    sent: list[AWSPreparedRequest] = []

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        body = _EMPTY_LISTING if request.method == "GET" and "list-type" in request.url else b""
        return AWSResponse(request.url, 200, {}, _Raw(body))

    client.meta.events.register("before-send.s3", before_send)
    return client, sent


def client_request(endpoint: str, operation: str, **params: Any) -> AWSPreparedRequest:
    client, sent = captured_client(endpoint)
    sent.clear()
    with botocore_clock(NOW):
        getattr(client, operation)(**params)
    assert len(sent) == 1
    return sent[0]


CLIENT_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_buckets", {}),
    ("head_bucket", {"Bucket": "bucket"}),
    ("create_bucket", {"Bucket": "bucket"}),
    ("get_object", {"Bucket": "bucket", "Key": "a b/ü+~=%"}),
    ("get_object", {"Bucket": "bucket", "Key": "k", "Range": "bytes=0-9", "VersionId": "v/1="}),
    ("put_object", {"Bucket": "bucket", "Key": "dir//x y", "Body": b"hi", "Metadata": {"a": "b"}}),
    ("delete_object", {"Bucket": "bucket", "Key": "k"}),
    ("list_objects_v2", {"Bucket": "bucket", "Prefix": "p q/", "Delimiter": "/"}),
    ("list_objects_v2", {"Bucket": "bucket", "ContinuationToken": "ab/c+d==", "StartAfter": "s t"}),
    ("list_objects", {"Bucket": "bucket", "Marker": "m=1", "MaxKeys": 5}),
    ("create_multipart_upload", {"Bucket": "bucket", "Key": "big"}),
    ("upload_part", {"Bucket": "bucket", "Key": "big", "UploadId": "u/p=", "PartNumber": 1,
                     "Body": b"x"}),
    ("copy_object", {"Bucket": "bucket", "Key": "dst", "CopySource": "bucket/src key"}),
    ("delete_objects", {"Bucket": "bucket", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}),
]  # fmt: skip


@pytest.mark.parametrize("endpoint", [ENDPOINT, "https://s3.tessera.test:8443"])
@pytest.mark.parametrize(("operation", "params"), CLIENT_CALLS)
def test_boto3_client_requests_verify(
    endpoint: str, operation: str, params: dict[str, Any]
) -> None:
    prepared = client_request(endpoint, operation, **params)
    result = verify_request(as_view(prepared), lookup, REGION)
    assert result is not None
    assert result.access_key == ACCESS_KEY
    mode = prepared.headers["X-Amz-Content-SHA256"]
    mode = mode.decode() if isinstance(mode, bytes) else mode
    streaming = mode.startswith("STREAMING-") or mode == PayloadMode.UNSIGNED
    assert result.payload_mode == (mode if streaming else PayloadMode.SHA256)


def presigned_url(signature_version: str | None) -> str:
    client, _ = captured_client(ENDPOINT, signature_version)
    with botocore_clock(NOW):
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": "bucket", "Key": "ü a+b"}, ExpiresIn=300
        )
    return url


def test_boto3_presigned_url_verifies() -> None:
    prepared = AWSRequest(method="GET", url=presigned_url("s3v4")).prepare()
    result = verify_request(as_view(prepared), lookup, REGION)
    assert result is not None and result.payload_mode == PayloadMode.UNSIGNED


def test_boto3_default_presigned_url_is_sigv2_and_refused() -> None:
    # Without signature_version="s3v4", botocore still presigns S3 URLs with
    # SigV2 (AWSAccessKeyId/Signature/Expires), which we do not implement.
    url = presigned_url(None)
    assert "AWSAccessKeyId=" in url
    with pytest.raises(errors.InvalidRequest):
        verify_request(as_view(AWSRequest(method="GET", url=url).prepare()), lookup, REGION)


# --- random keys and queries ---------------------------------------------------------------

key_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60)
query_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
query_name = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
query_pairs = st.lists(st.tuples(query_name, query_text), max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=key_text, params=query_pairs, method=st.sampled_from(["GET", "PUT", "DELETE"]))
def test_random_header_signed_requests_verify(
    key: str, params: list[tuple[str, str]], method: str
) -> None:
    view = as_view(sign_header(method, object_url(key), params=params))
    assert verify_header_auth(view, lookup, REGION).access_key == ACCESS_KEY
    moved = dataclasses.replace(view, raw_path=view.raw_path.split("?")[0] + "x")
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_header_auth(moved, lookup, REGION)


@settings(max_examples=200, deadline=None)
@given(key=key_text, params=st.dictionaries(query_text.filter(bool), query_text, max_size=4))
def test_random_presigned_urls_verify(key: str, params: dict[str, str]) -> None:
    params = {k: v for k, v in params.items() if not k.startswith("X-Amz-")}
    view = as_view(presign("GET", object_url(key), params=params))
    assert verify_presigned(view, lookup, REGION).access_key == ACCESS_KEY
    extra = dataclasses.replace(view, query=[*view.query, ("extra", "1")])
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_presigned(extra, lookup, REGION)


@settings(max_examples=100, deadline=None)
@given(key=key_text, prefix=query_text, token=query_text)
def test_random_boto3_client_requests_verify(key: str, prefix: str, token: str) -> None:
    get = client_request(ENDPOINT, "get_object", Bucket="bucket", Key=key)
    assert verify_request(as_view(get), lookup, REGION) is not None
    listing = {"Bucket": "bucket", "Prefix": prefix, "StartAfter": key}
    if token:
        listing["ContinuationToken"] = token
    listed = client_request(ENDPOINT, "list_objects_v2", **listing)
    assert verify_request(as_view(listed), lookup, REGION) is not None
