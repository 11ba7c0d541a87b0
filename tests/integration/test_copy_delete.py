"""CopyObject (server side, COPY and REPLACE, copy-source conditions),
DeleteObjects (batch and quiet), and keys that try to escape."""

from __future__ import annotations

import hashlib
import http.client
import os
import uuid

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"copy-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def test_copy_keeps_or_replaces_metadata(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(2 * MiB + 5)
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=body,
        ContentType="image/png",
        Metadata={"a": "1"},
        CacheControl="max-age=60",
    )
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/png" and got["Metadata"] == {"a": "1"}
    # Stored as sent; a header-signed read of a private object adds "private"
    # (docs/cdn-and-apps.md), so shared caches never keep it.
    assert got["CacheControl"] == "private, max-age=60"
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        Metadata={"b": "2"},
    )
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"b": "2"}
    # the copy is independent of its source
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == body


def test_copy_conditions_and_errors(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    put = s3.put_object(Bucket=bucket, Key="cond-src", Body=b"x" * 100)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="c1", CopySource=f"{bucket}/cond-src", CopySourceIfMatch='"nope"'
        )
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket,
            Key="c2",
            CopySource=f"{bucket}/cond-src",
            CopySourceIfNoneMatch=put["ETag"],
        )
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.copy_object(
        Bucket=bucket, Key="c3", CopySource=f"{bucket}/cond-src", CopySourceIfMatch=put["ETag"]
    )
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="c4", CopySource=f"{bucket}/missing")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="cond-src", CopySource=f"{bucket}/cond-src")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"


def test_delete_objects_batch_and_quiet(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    keys = [f"batch/{i:03d}" for i in range(120)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": k} for k in keys[:100]] + [{"Key": "batch/never-existed"}]},
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(
        [*keys[:100], "batch/never-existed"]
    )
    assert "Errors" not in result
    quiet = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[100:]], "Quiet": True}
    )
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket, Prefix="batch/")["KeyCount"] == 0


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../b", "..\\..\\win", "%2e%2e/x", "./.", "a/./b"]
)
def test_keys_that_look_like_paths_are_just_keys(s3, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]]
    assert key in listed


def test_invalid_utf8_key_is_invalid_uri(cluster, bucket: str) -> None:  # type: ignore[no-untyped-def]
    host, port = cluster.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", f"/{bucket}/bad%FFkey")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 400 and b"InvalidURI" in body
