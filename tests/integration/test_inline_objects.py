"""Small objects kept in their metadata record (TESSERA_INLINE_MAX_BYTES):
written and verified like any body, no shard on any node, read back whole or
by range, copied, versioned, checksummed, and still readable with every
storage node down (the metadata log replicates them). A 3-zone x 2-node
cluster with replicated metadata (etcd), threshold 4096 bytes."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.harness import s3_client, start_cluster
from tests.integration.test_repair import _by_id, _versions, run

pytestmark = pytest.mark.integration

LIMIT = 4096


@pytest.fixture(scope="module")
def inline_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path_factory.mktemp("inline"), {"TESSERA_INLINE_MAX_BYTES": str(LIMIT)})
    yield c
    c.stop()


def all_shard_names(cluster: LocalCluster) -> set[str]:
    names: set[str] = set()
    for node_id, _ in cluster.layout.node_names():
        root = cluster.node_data_dir(node_id) / "shards"
        names |= {p.name for p in root.glob("*/*")} if root.exists() else set()
    return names


def new_bucket(s3, versioned: bool = False) -> str:  # type: ignore[no-untyped-def]
    bucket = f"inline-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_small_bodies_live_in_the_record_and_read_back(inline_cluster: LocalCluster) -> None:
    s3 = s3_client(inline_cluster)
    bucket = new_bucket(s3)
    bodies = {f"k{size}": os.urandom(size) for size in (1, 100, LIMIT, LIMIT + 1)}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/x-test")
    versions = {v.key: v for v in run(_versions(inline_cluster, bucket, sorted(bodies)))}
    shards = all_shard_names(inline_cluster)
    for key, body in bodies.items():
        v = versions[key]
        if len(body) <= LIMIT:
            assert v.inline_data == body and v.placement == ()
            assert not any(name.startswith(v.version_id) for name in shards)
        else:
            assert v.inline_data == b"" and len(v.placement) == 6
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        assert got["ContentType"] == "text/x-test"
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(body)
    body = bodies[f"k{LIMIT}"]
    for header, want in (
        ("bytes=10-20", body[10:21]),
        ("bytes=-7", body[-7:]),
        (f"bytes={LIMIT - 3}-", body[-3:]),
    ):
        got = s3.get_object(Bucket=bucket, Key=f"k{LIMIT}", Range=header)
        assert got["Body"].read() == want, header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as bad_range:
        s3.get_object(Bucket=bucket, Key="k100", Range="bytes=500-600")
    assert bad_range.value.response["Error"]["Code"] == "InvalidRange"


def test_digests_and_checksums_are_verified_for_inline_bodies(
    inline_cluster: LocalCluster,
) -> None:
    s3 = s3_client(inline_cluster)
    bucket = new_bucket(s3)
    body = b"small and checked" * 10
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="summed", Body=body, ChecksumSHA256=sha)
    got = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == sha and got["Body"].read() == body
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as bad:
        s3.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=wrong)
    assert bad.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="bad")
    assert missing.value.response["Error"]["Code"] == "404"


def test_copy_versions_and_overwrites_across_the_threshold(inline_cluster: LocalCluster) -> None:
    s3 = s3_client(inline_cluster)
    bucket = new_bucket(s3, versioned=True)
    small, large = os.urandom(300), os.urandom(3 * LIMIT)
    first = s3.put_object(Bucket=bucket, Key="k", Body=small)["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=large)["VersionId"]
    third = s3.put_object(Bucket=bucket, Key="k", Body=small[::-1])["VersionId"]
    for vid, body in ((first, small), (second, large), (third, small[::-1])):
        got = s3.get_object(Bucket=bucket, Key="k", VersionId=vid)["Body"].read()
        assert got == body, vid
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == small[::-1]
    (copied,) = run(_versions(inline_cluster, bucket, ["copy"]))
    assert copied.inline_data == small[::-1] and copied.placement == ()
    s3.delete_object(Bucket=bucket, Key="k", VersionId=first)
    remaining = run(_by_id(inline_cluster, bucket, "k", [second, third]))
    assert [v.size_bytes for v in remaining] == [len(large), len(small)]


def test_an_encrypted_small_body_is_sealed_into_shards_never_inline(
    inline_cluster: LocalCluster,
) -> None:
    s3 = s3_client(inline_cluster)
    bucket = new_bucket(s3)
    body = b"a small secret " * 10
    s3.put_object(Bucket=bucket, Key="secret", Body=body, ServerSideEncryption="AES256")
    (version,) = run(_versions(inline_cluster, bucket, ["secret"]))
    assert version.inline_data == b"" and len(version.placement) == 6
    assert body not in repr(version).encode()
    got = s3.get_object(Bucket=bucket, Key="secret")
    assert got["Body"].read() == body and got["ServerSideEncryption"] == "AES256"


def test_inline_objects_read_with_every_storage_node_down(inline_cluster: LocalCluster) -> None:
    """Last in this module: it stops the nodes of the module's cluster."""
    s3 = s3_client(inline_cluster)
    bucket = new_bucket(s3)
    bodies = {f"n{i}": os.urandom(50 + i * 40) for i in range(10)}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for node_id, _ in inline_cluster.layout.node_names():
        inline_cluster.stop_process(node_id)
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
