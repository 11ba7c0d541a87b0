"""Record leases on a real cluster (3 etcd members, 3 metadata replicas, the
gateway): the gateway answers GET/HEAD from records it fetched while the
read-lease holder grants it a lease; reads stay linearizable with writes
through every replica; a write waits out a gateway that hangs, and the
gateway, once it runs again, does not answer from what it kept
(docs/metadata.md, "Record leases")."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from metadata.client import MetadataClient
from tests.integration.faults import inline_version, linearizable_run
from tests.integration.harness import role_metric as metric
from tests.integration.harness import s3_client, start_cluster

pytestmark = pytest.mark.integration

CALL_SECONDS = 20.0
HITS = 'tessera_gateway_record_lease_lookups_total{result="hit"}'


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "cluster")
    yield c
    c.stop()


def gateway_hits(cluster: LocalCluster) -> float:
    return metric(cluster, "gateway", HITS)


def test_heads_from_the_gateways_records_stay_linearizable_with_writes_everywhere(
    cluster: LocalCluster,
) -> None:
    history = linearizable_run(cluster, "register", workers=2, s3_readers=3)
    reads = sum(op.kind == "read" and op.client.startswith("s3") for op in history)
    hits = gateway_hits(cluster)
    print(f"{len(history)} operations, {reads} HEADs; {hits:.0f} from records")
    assert hits > 0


def test_a_write_waits_out_a_hung_gateway_which_then_reads_it(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket="hang")
    s3.put_object(Bucket="hang", Key="k", Body=b"before")
    deadline = time.monotonic() + 30
    while gateway_hits(cluster) < 20:  # GETs make the gateway keep the record, under a lease
        assert time.monotonic() < deadline, "the gateway answered nothing from its records"
        for _ in range(20):
            assert s3.get_object(Bucket="hang", Key="k")["Body"].read() == b"before"
    holder = cluster.layout.metadata_names()[0]
    waited_out = "tessera_metadata_record_lease_waited_out_total"
    before = metric(cluster, holder, waited_out)
    second = cluster.layout.metadata_addresses().split(",")[1]
    pid = cluster.processes["gateway"].pid

    async def write() -> None:
        async with MetadataClient(second, cluster.credentials.cluster_secret) as writer:
            await writer.put_object(inline_version("hang", "k", "after"), timeout=CALL_SECONDS)

    for _ in range(3):  # the lease may lapse between two GETs: try until one was running
        for _ in range(5):
            s3.get_object(Bucket="hang", Key="k")["Body"].read()
        os.kill(pid, signal.SIGSTOP)
        try:
            asyncio.run(write())
        finally:
            os.kill(pid, signal.SIGCONT)
        if metric(cluster, holder, waited_out) > before:
            break
    assert metric(cluster, holder, waited_out) > before
    head = s3.head_object(Bucket="hang", Key="k")
    assert head["ETag"].strip('"') == "after"
