"""Bucket CRUD through boto3 against a real cluster."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def new_name() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def test_bucket_lifecycle(s3) -> None:  # type: ignore[no-untyped-def]
    name = new_name()
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as again:
        s3.create_bucket(Bucket=name)
    assert code(again) == "BucketAlreadyOwnedByYou" and status(again) == 409
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=name)
    assert code(not_empty) == "BucketNotEmpty" and status(not_empty) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as gone:
        s3.head_bucket(Bucket=name)
    assert status(gone) == 404


def test_unknown_bucket(s3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=new_name())
    assert code(exc) == "NoSuchBucket" and status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=new_name(), Key="k", Body=b"x")
    assert code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=new_name(), Key="k")
    assert code(exc) == "NoSuchBucket"


@pytest.mark.parametrize(
    "name", ["ab", "Upper-case", "under_score", "a" * 64, "192.168.1.1", "-leading", "double..dot"]
)
def test_invalid_bucket_names(s3, name: str) -> None:  # type: ignore[no-untyped-def]
    # botocore validates some names client-side; send them raw to see the server's answer
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert code(exc) == "InvalidBucketName" and status(exc) == 400


def test_wrong_secret_and_unknown_key(cluster) -> None:  # type: ignore[no-untyped-def]
    def client(ak: str, sk: str):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=cluster.endpoint,
            aws_access_key_id=ak,
            aws_secret_access_key=sk,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    with pytest.raises(ClientError) as exc:
        client(cluster.credentials.access_key, "wrong-secret").list_buckets()
    assert code(exc) == "SignatureDoesNotMatch" and status(exc) == 403
    with pytest.raises(ClientError) as exc:
        client("AKIDUNKNOWN", "whatever").list_buckets()
    assert code(exc) == "InvalidAccessKeyId" and status(exc) == 403


def test_anonymous_requests_are_denied(cluster, s3) -> None:  # type: ignore[no-untyped-def]
    import urllib.error
    import urllib.request

    name = new_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="private", Body=b"secret")
    for url in [
        f"{cluster.endpoint}/",
        f"{cluster.endpoint}/{name}",
        f"{cluster.endpoint}/{name}/private",
    ]:
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url, timeout=10)
        assert exc.value.code == 403
        body = exc.value.read()
        assert b"<Code>AccessDenied</Code>" in body and b"<RequestId>" in body
