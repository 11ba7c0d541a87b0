"""Bucket lifecycle through boto3 against a real cluster whose lifecycle day
is LIFECYCLE_DAY_SECONDS long (tests/integration/conftest.py): the
configuration's round trip and S3's errors, then each action carried out by
the metadata leader's worker — expiry (unversioned and versioned, by prefix
and by tag), noncurrent versions, expired delete markers, and aborted
multipart uploads — and its Prometheus counters."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.conftest import LIFECYCLE_DAY_SECONDS

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
# Rules fall due within two lifecycle days and the worker looks every second;
# this bound only stops a broken cluster from hanging the test.
WAIT_SECONDS = 30 * LIFECYCLE_DAY_SECONDS


def new_bucket(s3, versioned: bool = False) -> str:  # type: ignore[no-untyped-def]
    name = f"lc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"lifecycle did not get to: {what}")
        time.sleep(0.5)


def keys_of(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def versions_of(s3, bucket: str) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    listed = s3.list_object_versions(Bucket=bucket)
    found = [(v["Key"], False) for v in listed.get("Versions", [])]
    found += [(m["Key"], True) for m in listed.get("DeleteMarkers", [])]
    return sorted(found)


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def rule(rule_id: str, **fields: object) -> dict[str, object]:
    return {"ID": rule_id, "Status": "Enabled", **fields}


def test_configuration_round_trip_and_delete(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code_of(missing) == (404, "NoSuchLifecycleConfiguration")
    rules = [
        rule("days", Filter={"Prefix": "logs/"}, Expiration={"Days": 30}),
        rule(
            "and",
            Filter={
                "And": {
                    "Prefix": "p/",
                    "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                    "ObjectSizeGreaterThan": 100,
                }
            },
            Expiration={"Date": "2031-01-01T00:00:00Z"},
        ),
        rule(
            "noncurrent",
            Filter={"Tag": {"Key": "t", "Value": "v"}},
            NoncurrentVersionExpiration={"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
        ),
        rule(
            "markers-and-uploads",
            Filter={"Prefix": ""},
            Expiration={"ExpiredObjectDeleteMarker": True},
            AbortIncompleteMultipartUpload={"DaysAfterInitiation": 3},
        ),
        {"ID": "off", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 1}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    by_id = {r["ID"]: r for r in got}
    assert by_id["days"]["Filter"] == {"Prefix": "logs/"}
    assert by_id["days"]["Expiration"] == {"Days": 30}
    assert by_id["and"]["Filter"]["And"]["Tags"] == rules[1]["Filter"]["And"]["Tags"]  # type: ignore[index]
    assert by_id["and"]["Filter"]["And"]["ObjectSizeGreaterThan"] == 100
    assert by_id["and"]["Expiration"]["Date"].year == 2031
    assert by_id["noncurrent"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 7,
        "NewerNoncurrentVersions": 2,
    }
    assert by_id["markers-and-uploads"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert by_id["markers-and-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 3
    }
    assert by_id["off"]["Status"] == "Disabled"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code_of(gone) == (404, "NoSuchLifecycleConfiguration")


@pytest.mark.parametrize(
    ("bad_rule", "expected"),
    [
        ({"ID": "x", "Status": "On", "Filter": {}, "Expiration": {"Days": 1}}, "MalformedXML"),
        (rule("x", Filter={}, Expiration={"Days": 0}), "InvalidArgument"),
        (
            rule("x", Filter={}, Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True}),
            "InvalidArgument",
        ),
        (rule("x", Filter={}, Expiration={"Date": "2031-01-01T06:00:00Z"}), "InvalidArgument"),
        (
            rule(
                "x",
                Filter={"Tag": {"Key": "k", "Value": "v"}},
                AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1},
            ),
            "InvalidRequest",
        ),
        (rule("x", Filter={}), "InvalidRequest"),
        (
            rule(
                "x",
                Filter={},
                NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 101},
            ),
            "InvalidArgument",
        ),
        (
            rule(
                "x",
                Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}},
                Expiration={"Days": 1},
            ),
            "MalformedXML",
        ),
        (rule("x" * 256, Filter={}, Expiration={"Days": 1}), "InvalidArgument"),
    ],
)
def test_invalid_configurations(s3, bad_rule: dict[str, object], expected: str) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [bad_rule]}
        )
    assert code_of(refused) == (400, expected)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_duplicate_ids_and_another_users_bucket(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as duplicate:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    rule("same", Filter={}, Expiration={"Days": 1}),
                    rule("same", Filter={}, Expiration={"Days": 2}),
                ]
            },
        )
    assert code_of(duplicate) == (400, "InvalidArgument")


def test_expiration_in_an_unversioned_bucket(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    for key in ("tmp/a", "tmp/b", "keep/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="tagged/d", Body=b"d", Tagging="expire=yes")
    s3.put_object(Bucket=bucket, Key="tagged/e", Body=b"e", Tagging="expire=no")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule("tmp", Filter={"Prefix": "tmp/"}, Expiration={"Days": 1}),
                rule(
                    "tag",
                    Filter={"Tag": {"Key": "expire", "Value": "yes"}},
                    Expiration={"Days": 1},
                ),
            ]
        },
    )
    wait_for(lambda: keys_of(s3, bucket) == ["keep/c", "tagged/e"], "expired tmp/ and tagged")
    assert s3.get_object(Bucket=bucket, Key="keep/c")["Body"].read() == b"x" * 100


def test_versioned_expiry_noncurrent_and_expired_markers(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, versioned=True)
    s3.put_object(Bucket=bucket, Key="old/k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="old/k", Body=b"2")
    s3.put_object(Bucket=bucket, Key="other", Body=b"stays")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule(
                    "expire",
                    Filter={"Prefix": "old/"},
                    Expiration={"Days": 1},
                    NoncurrentVersionExpiration={"NoncurrentDays": 1},
                ),
                rule(
                    "markers",
                    Filter={"Prefix": "old/"},
                    Expiration={"ExpiredObjectDeleteMarker": True},
                ),
            ]
        },
    )
    # The current version gets a delete marker, both versions then expire as
    # noncurrent, and the marker, left alone, goes too.
    wait_for(lambda: versions_of(s3, bucket) == [("other", False)], "old/k fully gone")
    assert s3.get_object(Bucket=bucket, Key="other")["Body"].read() == b"stays"


def test_newer_noncurrent_versions_are_kept(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, versioned=True)
    ids = [
        s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(5)
    ]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule(
                    "keep-two",
                    Filter={},
                    NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 2},
                )
            ]
        },
    )

    def remaining() -> list[str]:
        listed = s3.list_object_versions(Bucket=bucket).get("Versions", [])
        return [v["VersionId"] for v in listed]

    wait_for(lambda: len(remaining()) == 3, "two oldest noncurrent versions removed")
    assert remaining() == [ids[4], ids[3], ids[2]]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"4"


def test_incomplete_multipart_uploads_are_aborted(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    stale = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="uploads/big", UploadId=stale, PartNumber=1, Body=b"p" * MiB)
    s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/big")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule(
                    "abort",
                    Filter={"Prefix": "uploads/"},
                    AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1},
                )
            ]
        },
    )

    def uploads() -> list[str]:
        return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    wait_for(lambda: uploads() == ["elsewhere/big"], "the uploads/ upload aborted")
    with pytest.raises(ClientError) as aborted:
        s3.upload_part(Bucket=bucket, Key="uploads/big", UploadId=stale, PartNumber=2, Body=b"late")
    assert code_of(aborted) == (404, "NoSuchUpload")


def test_lifecycle_counters(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [rule("all", Filter={}, Expiration={"Days": 1})]},
    )
    wait_for(lambda: keys_of(s3, bucket) == [], "the object expired")
    total = 0.0
    for name in cluster.layout.metadata_names():
        url = f"http://127.0.0.1:{cluster.http_port_of(name)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(
                    'tessera_lifecycle_actions_total{action="expire_current",outcome="done"}'
                ):
                    total += float(line.rsplit(" ", 1)[1])
    assert total >= 1
