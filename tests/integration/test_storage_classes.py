"""Storage classes on the shared cluster (3 zones x 2 nodes, the gateway's
default classes: STANDARD 4+2, REDUCED_REDUNDANCY 4+1): x-amz-storage-class on
PUT, copy, multipart and POST picks the geometry, the shards on the nodes have
that class's k+m, and GET/HEAD and every listing show the class as S3 does."""

from __future__ import annotations

import os
import uuid
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tessera import limits
from tessera.geometry import Geometry
from tessera.usage import shard_set_physical_bytes
from tests.integration.harness import s3_client
from tests.integration.test_post_policy import post_form
from tests.integration.test_repair import (
    _expected_shard,
    _read_shard,
    _versions,
    run,
    shard_files,
    wait_for,
)
from tests.integration.test_usage import bucket_row, usage_json

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * KiB
RRS = "REDUCED_REDUNDANCY"
# The shared cluster's classes (tessera.storage_class.default_storage_classes(4, 2)).
GEOMETRY = {"STANDARD": (4, 2), RRS: (4, 1)}


@pytest.fixture(scope="module")
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"sclass-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def shards_on_nodes(cluster: LocalCluster, shard_set_id: str) -> Counter[int]:
    """How many shard files of a shard set each index has, over every node."""
    found: Counter[int] = Counter()
    for node_id, _ in cluster.layout.node_names():
        for name in shard_files(cluster, node_id):
            set_id, _, index = name.partition(".")
            if set_id == shard_set_id:
                found[int(index)] += 1
    return found


def assert_stored_as(cluster: LocalCluster, bucket: str, key: str, storage_class: str) -> None:
    k, m = GEOMETRY[storage_class]
    (version,) = run(_versions(cluster, bucket, [key]))
    sets = [s.shard_set_id for s in version.segments] or [version.version_id]
    geometries = [(s.data_shards, s.parity_shards) for s in version.segments] or [
        (version.data_shards, version.parity_shards)
    ]
    assert geometries == [(k, m)] * len(sets), (key, geometries)
    for shard_set_id in sets:
        # A write is acknowledged at k + 1 shards; one dropped as slow on a
        # loaded machine comes back through repair (docs/repair.md).
        wait_for(
            lambda set_id=shard_set_id: shards_on_nodes(cluster, set_id) == Counter(range(k + m)),
            90,
            f"{key}: one shard file of each index 0..{k + m - 1} of {shard_set_id}",
        )


@pytest.mark.parametrize("storage_class", ["STANDARD", RRS])
def test_put_with_a_class_writes_its_geometry_and_shows_it(  # type: ignore[no-untyped-def]
    s3, cluster: LocalCluster, bucket: str, storage_class: str
) -> None:
    key = f"put-{storage_class}"
    body = os.urandom(MiB + 333)
    s3.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=storage_class)
    assert_stored_as(cluster, bucket, key, storage_class)
    (version,) = run(_versions(cluster, bucket, [key]))
    for loc in version.placement:  # each shard is the class's own encoding of the body
        got = run(_read_shard(cluster, loc.node_id, version.version_id, loc.shard_index))
        assert got == _expected_shard(body, version.geometry, loc.shard_index)
    head = s3.head_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    if storage_class == "STANDARD":  # S3 sends no header for STANDARD
        assert "StorageClass" not in head and "StorageClass" not in got
    else:
        assert head["StorageClass"] == storage_class == got["StorageClass"]
    listed_v2 = s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    listed_v1 = s3.list_objects(Bucket=bucket, Prefix=key)["Contents"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [e["StorageClass"] for e in listed_v2] == [storage_class]
    assert [e["StorageClass"] for e in listed_v1] == [storage_class]
    assert [e["StorageClass"] for e in versions] == [storage_class]


def test_small_inline_object_keeps_its_class(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"x" * 100, StorageClass=RRS)
    assert s3.head_object(Bucket=bucket, Key="tiny")["StorageClass"] == RRS
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="tiny")["Contents"]
    assert [e["StorageClass"] for e in listed] == [RRS]


@pytest.mark.parametrize("bad", ["GLACIER", "standard", "NOPE"])
def test_unknown_class_is_invalid_storage_class_everywhere(s3, bucket: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="src-for-bad", Body=b"y" * 10_000)
    calls = [
        lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"z" * 10_000, StorageClass=bad),
        lambda: s3.copy_object(
            Bucket=bucket,
            Key="bad",
            CopySource={"Bucket": bucket, "Key": "src-for-bad"},
            StorageClass=bad,
        ),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="bad", StorageClass=bad),
    ]
    for call in calls:
        with pytest.raises(ClientError) as raised:
            call()
        error = raised.value.response
        assert error["Error"]["Code"] == "InvalidStorageClass"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "REDUCED_REDUNDANCY" in error["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="bad")
    assert missing.value.response["Error"]["Code"] == "404"
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix="bad").get("Uploads")


def test_copy_to_another_class_rewrites_the_data(  # type: ignore[no-untyped-def]
    s3, cluster: LocalCluster, bucket: str
) -> None:
    body = os.urandom(2 * MiB + 17)
    s3.put_object(Bucket=bucket, Key="cp", Body=body)
    source = {"Bucket": bucket, "Key": "cp"}
    # Onto itself with only a new class: allowed (S3 counts the class as a change).
    s3.copy_object(Bucket=bucket, Key="cp", CopySource=source, StorageClass=RRS)
    assert_stored_as(cluster, bucket, "cp", RRS)
    assert s3.get_object(Bucket=bucket, Key="cp")["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key="cp")["StorageClass"] == RRS
    # Onto itself in the class it already has: nothing changes, S3 refuses.
    with pytest.raises(ClientError) as same:
        s3.copy_object(Bucket=bucket, Key="cp", CopySource=source, StorageClass=RRS)
    assert same.value.response["Error"]["Code"] == "InvalidRequest"
    # A copy without the header is STANDARD, whatever the source's class.
    s3.copy_object(Bucket=bucket, Key="cp-std", CopySource=source)
    assert_stored_as(cluster, bucket, "cp-std", "STANDARD")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="cp-std")
    assert s3.get_object(Bucket=bucket, Key="cp-std")["Body"].read() == body


def test_multipart_parts_use_the_upload_class(  # type: ignore[no-untyped-def]
    s3, cluster: LocalCluster, bucket: str
) -> None:
    key = "mp"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, StorageClass=RRS)["UploadId"]
    first = os.urandom(5 * MiB)
    s3.put_object(Bucket=bucket, Key="mp-src", Body=os.urandom(300 * KiB))
    etag1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=first)[
        "ETag"
    ]
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "mp-src"},
    )["CopyPartResult"]["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert parts["StorageClass"] == RRS
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)["Uploads"]
    assert [(u["UploadId"], u["StorageClass"]) for u in uploads] == [(upload_id, RRS)]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": copied}]
        },
    )
    assert_stored_as(cluster, bucket, key, RRS)
    assert s3.head_object(Bucket=bucket, Key=key)["StorageClass"] == RRS
    src = s3.get_object(Bucket=bucket, Key="mp-src")["Body"].read()
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == first + src
    # A STANDARD upload lists as STANDARD.
    other = s3.create_multipart_upload(Bucket=bucket, Key="mp-std")["UploadId"]
    try:
        assert s3.list_parts(Bucket=bucket, Key="mp-std", UploadId=other)["StorageClass"] == (
            "STANDARD"
        )
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp-std", UploadId=other)


def test_post_form_upload_takes_the_class_field(  # type: ignore[no-untyped-def]
    s3, cluster: LocalCluster, bucket: str
) -> None:
    signer = s3_client(cluster, signature_version="s3v4")
    body = os.urandom(100 * KiB)
    for key, storage_class in (("posted", RRS), ("posted-bad", "NOPE")):
        post = signer.generate_presigned_post(
            bucket,
            key,
            Fields={"x-amz-storage-class": storage_class},
            Conditions=[{"x-amz-storage-class": storage_class}],
            ExpiresIn=300,
        )
        answer = post_form(post, body)
        if storage_class == RRS:
            assert answer.status == 204, answer.data
        else:
            assert answer.status == 400 and b"<Code>InvalidStorageClass</Code>" in answer.data
    assert_stored_as(cluster, bucket, "posted", RRS)
    assert s3.head_object(Bucket=bucket, Key="posted")["StorageClass"] == RRS


def test_physical_usage_counts_each_version_by_its_own_geometry(  # type: ignore[no-untyped-def]
    s3, cluster: LocalCluster
) -> None:
    name = f"sclass-usage-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    size = MiB + 5
    s3.put_object(Bucket=name, Key="std", Body=os.urandom(size))
    s3.put_object(Bucket=name, Key="rrs", Body=os.urandom(size), StorageClass=RRS)
    chunk = limits.CHUNK_SIZE_DEFAULT_BYTES
    expected = shard_set_physical_bytes(size, Geometry(4, 2, chunk)) + shard_set_physical_bytes(
        size, Geometry(4, 1, chunk)
    )
    row = bucket_row(usage_json(cluster, "--bucket", name), name)
    assert row["logical_bytes"] == 2 * size
    assert row["physical_bytes"] == expected
