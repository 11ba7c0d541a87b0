"""Read leases on a real cluster (3 etcd members, 3 metadata replicas): a
replica that serves strong reads answers them without etcd, reads stay
linearizable with writes through every replica, and a write waits out a
lease holder that hangs (docs/metadata.md, "Read leases")."""

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
from tests.integration.harness import replicas_metric_total as total
from tests.integration.harness import role_metric as metric
from tests.integration.harness import s3_client, start_cluster

pytestmark = pytest.mark.integration

CALL_SECONDS = 20.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "cluster")
    yield c
    c.stop()


def test_reads_under_leases_stay_linearizable_with_writes_through_every_replica(
    cluster: LocalCluster,
) -> None:
    history = linearizable_run(cluster, "register")
    reads = sum(op.kind == "read" for op in history)
    lease_reads = total(cluster, 'tessera_metadata_strong_reads_total{by="lease"}')
    asked = total(
        cluster, 'tessera_metadata_rpc_duration_seconds_count{code="OK",method="WaitApplied"}'
    )
    print(f"{len(history)} operations, {reads} reads; {lease_reads:.0f} under a lease")
    assert lease_reads > 0
    assert asked > 0  # writes and reads elsewhere waited for a holder to apply them


def test_a_write_waits_out_a_hung_lease_holder_which_then_reads_it(
    cluster: LocalCluster,
) -> None:
    s3_client(cluster).create_bucket(Bucket="hang")
    first, second, _ = cluster.layout.metadata_addresses().split(",")
    secret = cluster.credentials.cluster_secret
    holder = cluster.layout.metadata_names()[0]

    async def scenario() -> None:
        async with (
            MetadataClient(first, secret) as reader,
            MetadataClient(second, secret) as writer,
        ):
            await writer.put_object(inline_version("hang", "k", "before"), timeout=CALL_SECONDS)
            deadline = time.monotonic() + 30
            lease = 'tessera_metadata_strong_reads_total{by="lease"}'
            while metric(cluster, holder, lease) < 20:  # reads make it take the lease
                assert time.monotonic() < deadline, "the reading replica took no lease"
                for _ in range(20):
                    got = await reader.get_object("hang", "k", timeout=CALL_SECONDS)
                    assert got.etag == "before"
            pid = cluster.processes[holder].pid
            os.kill(pid, signal.SIGSTOP)
            try:
                await writer.put_object(inline_version("hang", "k", "after"), timeout=CALL_SECONDS)
            finally:
                os.kill(pid, signal.SIGCONT)
            waited_out = metric(
                cluster,
                cluster.layout.metadata_names()[1],
                "tessera_metadata_read_lease_waited_out_total",
            )
            assert waited_out >= 1
            # the holder's lease ended while it hung: it reads through etcd again
            got = await reader.get_object("hang", "k", timeout=CALL_SECONDS)
            assert got.etag == "after"

    asyncio.run(scenario())
