"""Browser form uploads (POST policy), posted as a browser would, with the
form boto3's generate_presigned_post produces."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


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


@pytest.fixture(scope="module")
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"post-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def post_form(post: dict, data: bytes, filename: str = "photo.jpg", **extra: str):  # type: ignore[no-untyped-def,type-arg]
    fields = list(post["fields"].items()) + list(extra.items())
    fields.append(("file", (filename, data, "image/jpeg")))
    return urllib3.PoolManager().request(
        "POST", post["url"], fields=fields, encode_multipart=True, timeout=60
    )


def test_form_upload_with_conditions(signer, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    post = signer.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={"Content-Type": "image/jpeg", "success_action_status": "201"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            ["content-length-range", 1, 8 * MiB],
            {"Content-Type": "image/jpeg"},
            {"success_action_status": "201"},
        ],
        ExpiresIn=300,
    )
    data = os.urandom(3 * MiB + 11)
    resp = post_form(post, data)
    assert resp.status == 201, resp.data
    assert b"<Key>uploads/photo.jpg</Key>" in resp.data
    got = s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")
    assert got["Body"].read() == data and got["ContentType"] == "image/jpeg"


def test_policy_conditions_are_enforced(signer, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    post = signer.generate_presigned_post(
        bucket,
        "small/${filename}",
        Conditions=[["starts-with", "$key", "small/"], ["content-length-range", 1, 1000]],
        ExpiresIn=300,
    )
    too_big = post_form(post, os.urandom(1001), filename="big.bin")
    assert too_big.status == 400 and b"EntityTooLarge" in too_big.data
    wrong_key = dict(post, fields=dict(post["fields"], key="elsewhere/x"))
    denied = post_form(wrong_key, b"abc")
    assert denied.status == 403 and b"AccessDenied" in denied.data
    extra = post_form(post, b"abc", **{"x-amz-meta-sneaky": "1"})
    assert extra.status == 403 and b"Extra input fields" in extra.data
    tampered = dict(
        post, fields=dict(post["fields"], policy=post["fields"]["policy"][:-4] + "AAA=")
    )
    assert post_form(tampered, b"abc").status == 403
    for key in ("small/big.bin", "elsewhere/x", "small/photo.jpg"):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key=key)
    ok = post_form(post, b"abc", filename="fine.txt")
    assert ok.status == 204
    assert s3.get_object(Bucket=bucket, Key="small/fine.txt")["Body"].read() == b"abc"


def test_expired_policy(signer, bucket: str) -> None:  # type: ignore[no-untyped-def]
    post = signer.generate_presigned_post(bucket, "late", ExpiresIn=-10)
    resp = post_form(post, b"late")
    assert resp.status == 403 and b"expired" in resp.data
