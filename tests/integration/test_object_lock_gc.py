"""GC never removes the shards of a locked version: on a cluster whose GC
runs every second, a version under COMPLIANCE retention keeps every shard
while garbage written after it is collected (docs/object-lock.md)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.harness import s3_client
from tests.integration.test_repair import _versions, own_cluster, run, shard_files, wait_for

pytestmark = pytest.mark.integration
__all__ = ["own_cluster"]  # the fixture, shared with the repair tests
KiB = 1024


def test_gc_keeps_a_locked_versions_shards(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"lockgc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    body = os.urandom(200 * KiB)
    locked = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=body,
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker hides it; nothing is removed
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key="k", VersionId=locked, BypassGovernanceRetention=True)
    # Garbage written after the locked version: once GC has removed it, GC
    # has run past the grace period for the locked version's shards too.
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="over", Body=os.urandom(100 * KiB))
    garbage = run(_versions(own_cluster, plain, ["over"]))[0].version_id
    s3.put_object(Bucket=plain, Key="over", Body=b"new")
    nodes = [n for n, _ in own_cluster.layout.node_names()]

    def everything() -> set[str]:
        return set().union(*(shard_files(own_cluster, n) for n in nodes))

    wait_for(
        lambda: not any(name.startswith(garbage) for name in everything()),
        60,
        "GC to remove the overwritten version's shards",
    )
    assert sum(name.startswith(locked) for name in everything()) == 6
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=locked)["Body"].read()
    assert got == body
