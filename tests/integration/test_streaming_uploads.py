"""SigV4 streaming uploads sent as the Java, Go and JS SDKs send them:
STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signed) and its -TRAILER
variant. The request is signed with botocore's signer; the chunk chain is
built here from the published algorithm."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import uuid
import zlib
from urllib.parse import urlparse

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

EMPTY = hashlib.sha256(b"").hexdigest()


class StreamingAuth(S3SigV4Auth):
    """botocore's signer, committing to a streaming payload mode."""

    def __init__(self, credentials: Credentials, mode: str) -> None:
        super().__init__(credentials, "s3", "us-east-1")
        self._mode = mode

    def payload(self, request: AWSRequest) -> str:  # type: ignore[override]
        return self._mode


def _hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _key(secret: str, date: str) -> bytes:
    k = f"AWS4{secret}".encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def streaming_put(
    cluster,  # type: ignore[no-untyped-def]
    bucket: str,
    key: str,
    chunks: list[bytes],
    *,
    trailer: tuple[str, str] | None = None,
    corrupt_chunk: int | None = None,
) -> tuple[int, bytes]:
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    url = f"{cluster.endpoint}/{bucket}/{key}"
    headers = {
        "x-amz-content-sha256": mode,
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(sum(len(c) for c in chunks)),
    }
    if trailer:
        headers["x-amz-trailer"] = trailer[0]
    request = AWSRequest(method="PUT", url=url, headers=headers)
    creds = Credentials(cluster.credentials.access_key, cluster.credentials.secret_key)
    StreamingAuth(creds, mode).add_auth(request)
    auth = request.headers["Authorization"]
    seed = auth.rsplit("Signature=", 1)[1]
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key_bytes = _key(cluster.credentials.secret_key, amz_date[:8])
    body = b""
    previous = seed
    for i, data in enumerate([*chunks, b""]):
        text = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY}\n"
            f"{hashlib.sha256(data).hexdigest()}"
        )
        sig = _hmac_hex(key_bytes, text)
        previous = sig
        if i == corrupt_chunk:
            sig = "0" * 64
        body += f"{len(data):x};chunk-signature={sig}\r\n".encode() + data
        if data or not trailer:
            body += b"\r\n"
    if trailer:
        name, value = trailer
        trailer_text = f"{name}:{value}\n"
        text = (
            f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n"
            f"{hashlib.sha256(trailer_text.encode()).hexdigest()}"
        )
        body += f"{name}:{value}\r\n".encode()
        body += f"x-amz-trailer-signature:{_hmac_hex(key_bytes, text)}\r\n\r\n".encode()
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        send_headers = {k: str(v) for k, v in request.headers.items()}
        send_headers["Content-Length"] = str(len(body))
        conn.request("PUT", parsed.path, body=body, headers=send_headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"stream-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def test_signed_chunks_round_trip(cluster, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    chunks = [os.urandom(65536) for _ in range(20)] + [os.urandom(1000)]
    status, body = streaming_put(cluster, bucket, "signed", chunks)
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key="signed")
    assert got["Body"].read() == b"".join(chunks)  # no framing leaked into the data
    assert got["ETag"] == f'"{hashlib.md5(b"".join(chunks)).hexdigest()}"'


def test_one_bad_chunk_signature_stores_nothing(cluster, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    chunks = [os.urandom(65536) for _ in range(30)]
    status, body = streaming_put(cluster, bucket, "tampered", chunks, corrupt_chunk=17)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="tampered")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_signed_trailer_checksum(cluster, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    chunks = [os.urandom(8192), os.urandom(77)]
    data = b"".join(chunks)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    status, body = streaming_put(
        cluster, bucket, "trailer", chunks, trailer=("x-amz-checksum-crc32", crc)
    )
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == crc


def test_wrong_trailer_checksum_is_bad_digest(cluster, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    chunks = [os.urandom(8192)]
    wrong = base64.b64encode(b"\0\0\0\0").decode()
    status, body = streaming_put(
        cluster, bucket, "badsum", chunks, trailer=("x-amz-checksum-crc32", wrong)
    )
    assert status == 400 and b"BadDigest" in body
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="badsum")
