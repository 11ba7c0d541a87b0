"""Record leases on a real cluster (3 etcd members, 3 metadata replicas, the
gateway): the gateway answers GET/HEAD from records it fetched while the
read-lease holder grants it a lease; reads stay linearizable with writes
through every replica, and with PUTs through a second gateway process; a
write waits out a gateway that hangs, and the gateway, once it runs again,
does not answer from what it kept (docs/metadata.md, "Record leases")."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from cli.local_cluster import LocalCluster, free_ports
from metadata.client import MetadataClient
from tests.integration.faults import inline_version, linearizable_run
from tests.integration.harness import role_metric as metric
from tests.integration.harness import s3_client, start_cluster
from tests.integration.linearizability import OK, UNKNOWN, Op, check

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


def test_a_get_answered_from_a_record_reads_no_stripe_ahead(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket="ahead")
    body = os.urandom(1024 * 1024 + 17)  # in shards: a prefetch would read its first stripe
    s3.put_object(Bucket="ahead", Key="k", Body=body)
    prefetched = 'tessera_gateway_prefetches_total{outcome="used"}'
    deadline = time.monotonic() + 30
    while True:  # until the gateway holds a lease: the GET before it may prefetch
        hits, before = gateway_hits(cluster), metric(cluster, "gateway", prefetched)
        assert s3.get_object(Bucket="ahead", Key="k")["Body"].read() == body
        if gateway_hits(cluster) > hits:
            break
        assert time.monotonic() < deadline, "no GET was answered from a record"
    assert metric(cluster, "gateway", prefetched) == before


def start_second_gateway(cluster: LocalCluster) -> tuple[subprocess.Popen[bytes], str]:
    """Another gateway process on the same cluster (its own ports); its endpoint."""
    s3_port, admin_port = free_ports(2)
    env = {
        **cluster._base_env(),
        **cluster._role_env("gateway"),
        "TESSERA_LISTEN": f"127.0.0.1:{s3_port}",
        "TESSERA_HTTP_LISTEN": f"127.0.0.1:{admin_port}",
        "TESSERA_WEBSITE_LISTEN": "",  # the first gateway's
    }
    log = open(cluster.data_dir / "logs" / "gateway-2.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "gateway"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    endpoint = f"http://127.0.0.1:{s3_port}"
    client = s3_client(cluster, endpoint=endpoint)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.list_buckets()
            return proc, endpoint
        except (BotoCoreError, ClientError):
            assert proc.poll() is None, "the second gateway exited"
            assert time.monotonic() < deadline, "the second gateway never answered"
            time.sleep(0.2)


def test_heads_through_one_gateway_stay_linearizable_with_puts_through_another(
    cluster: LocalCluster,
) -> None:
    s3_client(cluster).create_bucket(Bucket="two")
    second, endpoint = start_second_gateway(cluster)
    history: list[Op] = []
    stop = threading.Event()

    def writer() -> None:  # PUTs of unique bodies through the second gateway
        s3 = s3_client(cluster, endpoint=endpoint)
        n = 0
        while not stop.is_set():
            n += 1
            body = f"v{n}".encode()
            value = hashlib.md5(body).hexdigest()
            start = time.monotonic()
            try:
                s3.put_object(Bucket="two", Key="k", Body=body)
                history.append(Op("write", value, OK, start, time.monotonic(), "gw2"))
            except (BotoCoreError, ClientError):
                history.append(Op("write", value, UNKNOWN, start, float("inf"), "gw2"))
            time.sleep(0.01)

    def reader(who: str) -> None:  # HEADs through the cluster's gateway
        s3 = s3_client(cluster)
        while not stop.is_set():
            start = time.monotonic()
            try:
                seen: str | None = s3.head_object(Bucket="two", Key="k")["ETag"].strip('"')
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                    continue
                seen = None
            except BotoCoreError:
                continue
            history.append(Op("read", None, seen, start, time.monotonic(), who))

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(f"gw1-{i}",)) for i in range(3)
    ]
    try:
        for t in threads:
            t.start()
        time.sleep(8)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        second.terminate()
        second.wait(30)
    ok, why = check(history)
    assert ok, why
    writes = sum(op.kind == "write" for op in history)
    hits = gateway_hits(cluster)
    print(f"{len(history)} operations, {writes} PUTs through gateway 2; {hits:.0f} from records")
    assert writes > 50 and hits > 0
