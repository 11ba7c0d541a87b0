"""Object Lock holds against lifecycle: a rule that expires every
noncurrent version removes the unlocked ones and is refused on the locked
one (counted as outcome="refused"), which stays readable by its id. Runs on
the shared cluster, whose lifecycle day is LIFECYCLE_DAY_SECONDS long."""

from __future__ import annotations

import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.test_lifecycle import rule, wait_for

pytestmark = pytest.mark.integration


def refused_total(cluster: LocalCluster) -> float:
    total = 0.0
    for name in cluster.layout.metadata_names():
        url = f"http://127.0.0.1:{cluster.http_port_of(name)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("tessera_lifecycle_actions_total{") and (
                    'outcome="refused"' in line
                ):
                    total += float(line.rsplit(" ", 1)[1])
    return total


def test_lifecycle_cannot_remove_a_locked_version(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"lock-lc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    locked = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"kept by the lock",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"newer, unlocked")
    s3.put_object(Bucket=bucket, Key="free", Body=b"1")
    s3.put_object(Bucket=bucket, Key="free", Body=b"2")
    refused_before = refused_total(cluster)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                rule(
                    "all",
                    Filter={},
                    Expiration={"Days": 1},
                    NoncurrentVersionExpiration={"NoncurrentDays": 1},
                )
            ]
        },
    )

    def versions() -> list[tuple[str, str]]:
        listed = s3.list_object_versions(Bucket=bucket)
        return sorted((v["Key"], v["VersionId"]) for v in listed.get("Versions", []))

    # Every unlocked version goes (current ones first get a delete marker);
    # the locked one is all that is left.
    wait_for(lambda: versions() == [("k", locked)], "every unlocked version expired")
    wait_for(lambda: refused_total(cluster) > refused_before, "a refused removal counted")
    time.sleep(3)  # more passes: still refused
    assert versions() == [("k", locked)]
    got = s3.get_object(Bucket=bucket, Key="k", VersionId=locked)
    assert got["Body"].read() == b"kept by the lock"
