"""Object Lock end to end with boto3 on the shared cluster: lock buckets,
default retention, retention and legal hold operations, governance bypass
rules, and locked versions surviving deletes by their owner, another user,
and the metadata delete path that lifecycle and admin tools use
(docs/object-lock.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from metadata.client import MetadataClient
from tessera import errors
from tests.integration.test_access import admin, client_for, error_code, new_key

pytestmark = pytest.mark.integration


def code_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    return error_code(caught.value)


@pytest.fixture(scope="module")
def people(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:6]
    names = {"owner": f"lock-owner-{suffix}", "other": f"lock-other-{suffix}"}
    for name in names.values():
        admin(cluster, "user", "create", name)
    return {
        role: (name, client_for(cluster, new_key(cluster, name))) for role, name in names.items()
    }


def lock_bucket(client, **extra) -> str:  # type: ignore[no-untyped-def]
    bucket = f"lock-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **extra)
    return bucket


def in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_lock_bucket_configuration(cluster: LocalCluster, people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    assert owner.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    config = owner.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    assert (
        code_of(
            lambda: owner.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
            )
        )
        == "InvalidBucketState"
    )
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    owner.put_object_lock_configuration(
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
    )
    got = owner.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got["Rule"] == rule
    listing = [line.split("\t") for line in admin(cluster, "buckets").stdout.splitlines()]
    assert [row[6] for row in listing if row[0] == bucket] == ["GOVERNANCE 1d"]
    # A default rule with both Days and Years, or neither, is refused; nothing changes.
    for bad in ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, {"Mode": "GOVERNANCE"}):
        assert (
            code_of(
                lambda bad=bad: owner.put_object_lock_configuration(
                    Bucket=bucket,
                    ObjectLockConfiguration={
                        "ObjectLockEnabled": "Enabled",
                        "Rule": {"DefaultRetention": bad},
                    },
                )
            )
            == "MalformedXML"
        )
    got = owner.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got["Rule"] == rule
    # New versions get the default retention, from the metadata service's clock.
    put = owner.put_object(Bucket=bucket, Key="k", Body=b"v1")
    head = owner.head_object(Bucket=bucket, Key="k", VersionId=put["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert in_days(0.9) < until < in_days(1.1)
    # A plain bucket has no lock configuration and accepts no lock settings.
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    owner.create_bucket(Bucket=plain)
    assert (
        code_of(lambda: owner.get_object_lock_configuration(Bucket=plain))
        == "ObjectLockConfigurationNotFoundError"
    )
    assert (
        code_of(
            lambda: owner.put_object(
                Bucket=plain,
                Key="k",
                Body=b"x",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=in_days(1),
            )
        )
        == "InvalidRequest"
    )


def test_compliance_version_survives_every_delete(cluster: LocalCluster, people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    _, other = people["other"]
    bucket = lock_bucket(owner)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::tessera:user/{people['other'][0]}"},
                "Action": [
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:BypassGovernanceRetention",
                ],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    put = owner.put_object(
        Bucket=bucket,
        Key="record.pdf",
        Body=b"keep me",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=in_days(30),
    )
    version = put["VersionId"]
    retention = owner.get_object_retention(Bucket=bucket, Key="record.pdf", VersionId=version)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    # The owner, with or without the bypass header: refused.
    for bypass in (False, True):
        assert (
            code_of(
                lambda bypass=bypass: owner.delete_object(
                    Bucket=bucket,
                    Key="record.pdf",
                    VersionId=version,
                    BypassGovernanceRetention=bypass,
                )
            )
            == "AccessDenied"
        )
    # Another user whom the policy lets delete and bypass: refused too.
    assert (
        code_of(
            lambda: other.delete_object(
                Bucket=bucket, Key="record.pdf", VersionId=version, BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    result = owner.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "record.pdf", "VersionId": version}]},
        BypassGovernanceRetention=True,
    )
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"]
    # The delete path lifecycle and admin tools use (metadata, with the
    # cluster secret): refused in the state machine itself.
    assert asyncio.run(_metadata_delete(cluster, bucket, "record.pdf", version)) == "AccessDenied"
    # Shortening, weakening or removing the retention: refused.
    for retention_change in (
        {"Mode": "COMPLIANCE", "RetainUntilDate": in_days(1)},
        {"Mode": "GOVERNANCE", "RetainUntilDate": in_days(60)},
    ):
        assert (
            code_of(
                lambda r=retention_change: owner.put_object_retention(
                    Bucket=bucket,
                    Key="record.pdf",
                    VersionId=version,
                    Retention=r,
                    BypassGovernanceRetention=True,
                )
            )
            == "AccessDenied"
        )
    # Extending is allowed.
    owner.put_object_retention(
        Bucket=bucket,
        Key="record.pdf",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": in_days(40)},
    )
    # A plain delete only adds a delete marker; the version is still there.
    marker = owner.delete_object(Bucket=bucket, Key="record.pdf")
    assert marker["DeleteMarker"] is True
    body = owner.get_object(Bucket=bucket, Key="record.pdf", VersionId=version)["Body"].read()
    assert body == b"keep me"


async def _metadata_delete(cluster: LocalCluster, bucket: str, key: str, version: str) -> str:
    client = MetadataClient(cluster.layout.metadata_addresses(), cluster.credentials.cluster_secret)
    async with client:
        try:
            await client.delete_versioned(bucket, key, version_id=version, timeout=10)
        except errors.TesseraError as exc:
            return exc.code
    return "deleted"


def test_governance_bypass_needs_the_permission(people) -> None:  # type: ignore[no-untyped-def]
    other_name, other = people["other"]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    versions = [
        owner.put_object(
            Bucket=bucket,
            Key=f"g{i}",
            Body=b"g",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=in_days(5),
        )["VersionId"]
        for i in range(3)
    ]
    delete_only = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::tessera:user/{other_name}"},
        "Action": "s3:DeleteObjectVersion",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    owner.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [delete_only]})
    )
    # Without the header, nobody; with it but without s3:BypassGovernanceRetention, not other.
    assert (
        code_of(lambda: owner.delete_object(Bucket=bucket, Key="g0", VersionId=versions[0]))
        == "AccessDenied"
    )
    assert (
        code_of(
            lambda: other.delete_object(
                Bucket=bucket, Key="g0", VersionId=versions[0], BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    # The owner holds the permission unless the policy denies it.
    owner.delete_object(
        Bucket=bucket, Key="g0", VersionId=versions[0], BypassGovernanceRetention=True
    )
    with_bypass = dict(
        delete_only, Action=["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"]
    )
    deny_owner_bypass = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:BypassGovernanceRetention",
        "Resource": f"arn:aws:s3:::{bucket}/g2",
    }
    owner.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [with_bypass, deny_owner_bypass]}),
    )
    other.delete_object(
        Bucket=bucket, Key="g1", VersionId=versions[1], BypassGovernanceRetention=True
    )
    assert (
        code_of(
            lambda: owner.delete_object(
                Bucket=bucket, Key="g2", VersionId=versions[2], BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    listed = owner.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in listed) == ["g2"]
    # Shortening a governance retention also needs the bypass.
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": in_days(1)}
    assert (
        code_of(
            lambda: owner.put_object_retention(
                Bucket=bucket, Key="g2", VersionId=versions[2], Retention=shorter
            )
        )
        == "AccessDenied"
    )


def test_legal_hold(people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    version = owner.put_object(
        Bucket=bucket, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON"
    )["VersionId"]
    hold = owner.get_object_legal_hold(Bucket=bucket, Key="held", VersionId=version)
    assert hold["LegalHold"]["Status"] == "ON"
    assert owner.head_object(Bucket=bucket, Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    assert (
        code_of(
            lambda: owner.delete_object(
                Bucket=bucket, Key="held", VersionId=version, BypassGovernanceRetention=True
            )
        )
        == "AccessDenied"
    )
    owner.put_object_legal_hold(
        Bucket=bucket, Key="held", VersionId=version, LegalHold={"Status": "OFF"}
    )
    assert (
        owner.get_object_legal_hold(Bucket=bucket, Key="held", VersionId=version)["LegalHold"][
            "Status"
        ]
        == "OFF"
    )
    owner.delete_object(Bucket=bucket, Key="held", VersionId=version)
    assert "Versions" not in owner.list_object_versions(Bucket=bucket)


def test_bad_retention_input_changes_nothing(people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    version = owner.put_object(Bucket=bucket, Key="k", Body=b"k")["VersionId"]
    assert (
        code_of(lambda: owner.get_object_retention(Bucket=bucket, Key="k"))
        == "NoSuchObjectLockConfiguration"
    )
    past = datetime.now(UTC) - timedelta(days=1)
    assert (
        code_of(
            lambda: owner.put_object_retention(
                Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past}
            )
        )
        == "InvalidArgument"
    )
    assert (
        code_of(
            lambda: owner.put_object(
                Bucket=bucket,
                Key="k2",
                Body=b"x",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=past,
            )
        )
        == "InvalidArgument"
    )
    assert (
        code_of(
            lambda: owner.put_object(
                Bucket=bucket, Key="k3", Body=b"x", ObjectLockMode="COMPLIANCE"
            )
        )
        == "InvalidArgument"
    )
    assert (
        code_of(
            lambda: owner.put_object_retention(
                Bucket=bucket,
                Key="k",
                Retention={"Mode": "FOREVER", "RetainUntilDate": in_days(1)},  # type: ignore[typeddict-item]
            )
        )
        == "MalformedXML"
    )
    assert (
        code_of(lambda: owner.get_object_retention(Bucket=bucket, Key="k"))
        == "NoSuchObjectLockConfiguration"
    )
    names = [v["Key"] for v in owner.list_object_versions(Bucket=bucket)["Versions"]]
    assert names == ["k"]
    owner.delete_object(Bucket=bucket, Key="k", VersionId=version)  # unlocked: it goes


def test_multipart_and_copy_carry_their_lock_headers(people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    upload = owner.create_multipart_upload(
        Bucket=bucket,
        Key="big",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=in_days(3),
        ObjectLockLegalHoldStatus="ON",
    )
    part = owner.upload_part(
        Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 100
    )
    done = owner.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    head = owner.head_object(Bucket=bucket, Key="big", VersionId=done["VersionId"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    assert in_days(2.9) < head["ObjectLockRetainUntilDate"] < in_days(3.1)
    copied = owner.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "big"},
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=in_days(2),
    )
    copy_head = owner.head_object(Bucket=bucket, Key="copy", VersionId=copied["VersionId"])
    assert copy_head["ObjectLockMode"] == "GOVERNANCE"
    assert "ObjectLockLegalHoldStatus" not in copy_head  # a copy does not inherit the hold
    assert (
        code_of(lambda: owner.delete_object(Bucket=bucket, Key="big", VersionId=done["VersionId"]))
        == "AccessDenied"
    )
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    owner.create_bucket(Bucket=plain)
    assert (
        code_of(
            lambda: owner.create_multipart_upload(
                Bucket=plain,
                Key="m",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=in_days(1),
            )
        )
        == "InvalidRequest"
    )


def test_a_policy_can_cap_retention_length(people) -> None:  # type: ignore[no-untyped-def]
    _, owner = people["owner"]
    bucket = lock_bucket(owner)
    cap = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:PutObjectRetention"],
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"NumericGreaterThan": {"s3:object-lock-remaining-retention-days": "10"}},
    }
    owner.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [cap]})
    )
    owner.put_object(Bucket=bucket, Key="k", Body=b"k")
    too_long = {"Mode": "GOVERNANCE", "RetainUntilDate": in_days(30)}
    assert (
        code_of(lambda: owner.put_object_retention(Bucket=bucket, Key="k", Retention=too_long))
        == "AccessDenied"
    )
    assert (
        code_of(
            lambda: owner.put_object(
                Bucket=bucket,
                Key="k2",
                Body=b"x",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=in_days(30),
            )
        )
        == "AccessDenied"
    )
    owner.put_object_retention(
        Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_days(5)}
    )
    assert owner.get_object_retention(Bucket=bucket, Key="k")["Retention"]["Mode"] == "GOVERNANCE"
