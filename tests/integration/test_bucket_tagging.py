"""Bucket tagging and CopyObject's x-amz-tagging-directive through boto3
against a real cluster."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def new_bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"tag-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_bucket_tagging_round_trip(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(missing) == (404, "NoSuchTagSet")
    tags = [{"Key": f"k{i:02d}", "Value": f"v{i}"} for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert sorted(s3.get_bucket_tagging(Bucket=bucket)["TagSet"], key=lambda t: t["Key"]) == tags
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": ""}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": ""}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(gone) == (404, "NoSuchTagSet")


@pytest.mark.parametrize(
    "tag_set",
    [
        [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}],
    ],
)
def test_invalid_bucket_tags(s3, tag_set: list[dict[str, str]]) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set})
    assert code_of(refused) == (400, "InvalidTag")


def test_copy_tagging_directive(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Tagging="a=1&b=2")
    source = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="copied", CopySource=source)
    assert s3.get_object_tagging(Bucket=bucket, Key="copied")["TagSet"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    s3.copy_object(
        Bucket=bucket, Key="replaced", CopySource=source, TaggingDirective="REPLACE", Tagging="c=3"
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"] == [
        {"Key": "c", "Value": "3"}
    ]
    head = s3.head_object(Bucket=bucket, Key="replaced")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "1"
    s3.copy_object(Bucket=bucket, Key="bare", CopySource=source, TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="bare")["TagSet"] == []
    with pytest.raises(ClientError) as bad:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource=source, TaggingDirective="REPLACE", Tagging="=v"
        )
    assert code_of(bad) == (400, "InvalidTag")
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"data"
