"""Usage stays exact through metadata faults and a gateway restart, on a
cluster of its own: PUTs and DELETEs run while a metadata replica and the etcd
leader are killed (-9) and restarted (the gateway retries commits and usage
flushes on other replicas with the same request ids), then the gateway is
stopped (SIGTERM) and started again. Afterwards the storage counters equal a
recount from the listing on every replica, and the request counters equal
the requests the client made."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.faults import etcd_leader, wait_replicas_equal
from tests.integration.harness import s3_client, start_cluster
from tests.integration.test_usage import flush_gateway, physical, usage_json

pytestmark = pytest.mark.integration

OPERATIONS_MAX = 3000  # the workload is bounded even if the faults take long


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "cluster", {"TESSERA_USAGE_FLUSH_SECONDS": "1"})
    yield c
    c.stop()


class Workload(threading.Thread):
    """PUTs (overwrites of a few keys, several sizes) and DELETEs, counting what
    the gateway should meter."""

    def __init__(self, cluster: LocalCluster, bucket: str) -> None:
        super().__init__(daemon=True)
        self.s3 = s3_client(cluster)
        self.bucket = bucket
        self.stop_event = threading.Event()
        self.counted = {"put_class": 0, "get_class": 0, "delete": 0, "bytes_in": 0, "bytes_out": 0}
        self.ok = 0
        self.rng = random.Random(11)

    def run(self) -> None:
        for _ in range(OPERATIONS_MAX):
            if self.stop_event.is_set():
                return
            key = f"k{self.rng.randrange(12)}"
            try:
                if self.rng.random() < 0.8:
                    size = self.rng.choice([0, 1, 999, 3000, 70_000])
                    self.counted["put_class"] += 1
                    self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"w" * size)
                    self.counted["bytes_in"] += size
                else:
                    self.counted["delete"] += 1
                    self.s3.delete_object(Bucket=self.bucket, Key=key)
                self.ok += 1
            except ClientError:
                time.sleep(0.05)  # a 503 while metadata fails over: counted, retried later


def test_usage_is_exact_through_replica_and_leader_kills_and_a_gateway_restart(
    cluster: LocalCluster,
) -> None:
    s3 = s3_client(cluster)
    bucket = "usage-faults"
    s3.create_bucket(Bucket=bucket)
    workload = Workload(cluster, bucket)
    workload.start()
    try:
        time.sleep(2)
        cluster.kill("metadata-1")  # the replica the gateway uses first
        time.sleep(3)
        cluster.start_process("metadata-1")
        cluster.wait_ready(60, ["metadata-1"])
        leader = etcd_leader(cluster)
        cluster.kill(leader)
        time.sleep(4)
        cluster.start_process(leader)
        cluster.wait_ready(60, [leader])
        time.sleep(2)
    finally:
        workload.stop_event.set()
        workload.join(120)
    assert workload.ok > 20

    # A graceful restart of the gateway flushes what it counted.
    assert cluster.stop_process("gateway") == 0
    cluster.start_process("gateway")
    cluster.wait_ready(60, ["gateway"])

    listed: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        listed += page.get("Contents", [])
    expected_requests = dict(workload.counted)
    expected_requests["put_class"] += 1  # the listing (one page: 12 keys at most)
    flush_gateway(cluster)
    wait_replicas_equal(cluster)  # the counters are state: every replica holds the same

    report = usage_json(cluster, "--bucket", bucket, "--from", "0")
    (row,) = report["buckets"]
    assert row["objects"] == row["versions"] == len(listed)
    assert row["logical_bytes"] == sum(o["Size"] for o in listed)
    assert row["physical_bytes"] == sum(physical(o["Size"], cluster) for o in listed)
    assert row["delete_markers"] == row["multipart_uploads"] == 0
    # CreateBucket went through the first gateway process too
    expected_requests["put_class"] += 1
    assert report["requests_total"] == expected_requests
    print(f"{workload.ok} operations acknowledged; usage {row}")
