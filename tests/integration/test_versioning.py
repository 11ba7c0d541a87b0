"""Versioning and tagging through boto3 against a real cluster: version ids,
noncurrent versions that stay readable (their shards are not reclaimed),
delete markers, ListObjectVersions paging, null versions, tags."""

from __future__ import annotations

import os
import uuid

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def new_bucket(s3, status: str | None = "Enabled") -> str:  # type: ignore[no-untyped-def]
    name = f"ver-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    if status:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    return name


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, dict[str, str]]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPHeaders"],
    )


def test_versioning_status(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, None)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_noncurrent_versions_stay_readable(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    bodies = [os.urandom(MiB + i) for i in range(3)]  # erasure-coded, not inline
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == 3 and "null" not in ids
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == bodies[2]
    for version_id, body in zip(ids, bodies, strict=True):
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=version_id)
        assert got["Body"].read() == body and got["VersionId"] == version_id
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=ids[0])
    assert head["ContentLength"] == len(bodies[0])
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [
        (ids[2], True),
        (ids[1], False),
        (ids[0], False),
    ]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="0" * 26)
    assert error_of(exc)[:2] == (404, "NoSuchVersion")
    copied = s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": ids[0]}
    )
    assert copied["CopySourceVersionId"] == ids[0]
    assert copied["VersionId"] not in ids
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == bodies[0]
    # deleting a version by id removes it; the others stay
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[2])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == bodies[1]


def test_delete_markers(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    put = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker_id = deleted["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc")
    status, code, headers = error_of(exc)
    assert (status, code, headers.get("x-amz-delete-marker")) == (404, "NoSuchKey", "true")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker_id)
    status, code, headers = error_of(exc)
    assert (status, code, headers.get("x-amz-delete-marker")) == (405, "MethodNotAllowed", "true")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["other"]
    page = s3.list_object_versions(Bucket=bucket, Prefix="doc")
    assert [(m["VersionId"], m["IsLatest"]) for m in page["DeleteMarkers"]] == [(marker_id, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in page["Versions"]] == [
        (put["VersionId"], False)
    ]
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(exc)[1] == "BucketNotEmpty"
    # removing the marker brings the object back
    removed = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker_id)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker_id
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"v1"


def test_list_object_versions_pages(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    expected = []
    for key in ["a", "b/1", "b/2", "c"]:
        for n in range(2):
            expected.append((key, s3.put_object(Bucket=bucket, Key=key, Body=b"%d" % n)))
    seen = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert len(seen) == 8 and len(set(seen)) == 8
    assert [k for k, _ in seen] == ["a", "a", "b/1", "b/1", "b/2", "b/2", "c", "c"]
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["b/"]
    assert [v["Key"] for v in page["Versions"]] == ["a", "a", "c", "c"]


def test_null_versions(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, None)
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    enabled_id = s3.put_object(Bucket=bucket, Key="k", Body=b"enabled")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"suspended")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("null", True),
        (enabled_id, False),
    ]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"suspended"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=enabled_id)["Body"].read() == b"enabled"


def test_tagging(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="t", Body=b"1", Tagging="a=1&b=two%20words")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two words")]
    s3.put_object(Bucket=bucket, Key="t", Body=b"2")
    s3.put_object_tagging(
        Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "new", "Value": "x"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "new", "Value": "x"}]
    old = s3.get_object_tagging(Bucket=bucket, Key="t", VersionId=first["VersionId"])
    assert len(old["TagSet"]) == 2
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    too_many = [{"Key": f"k{i}", "Value": ""} for i in range(11)]
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": too_many})
    assert error_of(exc)[:2] == (400, "InvalidTag")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="k=" + "v" * 257)
    assert error_of(exc)[:2] == (400, "InvalidTag")


def test_multipart_completion_is_a_version(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="mp", Body=b"small")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="part=of&a=b")["UploadId"]
    body = os.urandom(5 * MiB + 1)
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=body)["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert done["VersionId"] not in (first, "null")
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == body and got["TagCount"] == 2
    assert s3.get_object(Bucket=bucket, Key="mp", VersionId=first)["Body"].read() == b"small"


def test_delete_objects_with_versions(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=b"%d" % n)["VersionId"] for n in range(2)]
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "k", "VersionId": ids[0]}, {"Key": "other"}]},
    )
    by_key = {d["Key"]: d for d in result["Deleted"]}
    assert by_key["k"]["VersionId"] == ids[0]
    assert by_key["other"]["DeleteMarker"] is True and by_key["other"]["DeleteMarkerVersionId"]
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [ids[1]]


def test_unversioned_bucket_lists_null_versions(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, None)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("k", "null", True)]
