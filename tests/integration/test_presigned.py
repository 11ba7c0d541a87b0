"""Pre-signed URLs used from a plain HTTP client, as a browser or curl would."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def signer(cluster):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_presigned_put_get_head_delete(signer, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"pre-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    params = {"Bucket": bucket, "Key": "dir/file name.txt"}
    put_url = signer.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
    assert fetch(put_url, "PUT", b"uploaded by a browser")[0] == 200
    get_url = signer.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
    assert fetch(get_url) == (200, b"uploaded by a browser")
    head_url = signer.generate_presigned_url("head_object", Params=params, ExpiresIn=300)
    assert fetch(head_url, "HEAD")[0] == 200
    # a URL signed for GET does not authorise a PUT
    status, body = fetch(get_url, "PUT", b"overwrite")
    assert status == 403 and b"SignatureDoesNotMatch" in body
    delete_url = signer.generate_presigned_url("delete_object", Params=params, ExpiresIn=300)
    assert fetch(delete_url, "DELETE")[0] == 204
    assert fetch(get_url)[0] == 404


def test_expired_and_tampered_urls(signer, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"exp-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1
    )
    time.sleep(2.2)
    status, body = fetch(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body
    fresh = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )
    status, body = fetch(fresh.replace("/k?", "/other?"))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    too_long = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=7 * 24 * 3600 + 1
    )
    status, body = fetch(too_long)
    assert status == 400 and b"AuthorizationQueryParametersError" in body
