"""Reads survive lost nodes and flipped bytes; the gateway's memory stays
bounded while a large object streams in and out. Each test here has its own
cluster, since it breaks it."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cli.local_cluster import LocalCluster
from gateway import slow_nodes
from tests.integration.harness import role_metric, s3_client, start_cluster

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "cluster")
    yield c
    c.stop()


def write_objects(s3, bucket: str, sizes: list[int]) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket=bucket)
    objects = {}
    for i, size in enumerate(sizes):
        body = os.urandom(size)
        s3.put_object(Bucket=bucket, Key=f"obj-{i}", Body=body)
        objects[f"obj-{i}"] = body
    return objects


def test_two_nodes_killed_in_different_zones(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"kill-{uuid.uuid4().hex[:8]}"
    objects = write_objects(s3, bucket, [1, 1000, MiB - 1, MiB + 1, 5 * MiB + 77, 9 * MiB])
    own_cluster.kill("node-a1")
    own_cluster.kill("node-c2")
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        tail = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-3")["Body"].read()
        assert tail == body[-3:]
    # the nodes come back with their shards; everything still reads
    own_cluster.start_process("node-a1")
    own_cluster.start_process("node-c2")
    own_cluster.wait_ready(60, ["node-a1", "node-c2"])
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key


def shard_files(cluster: LocalCluster) -> list[Path]:
    return [p for p in (cluster.data_dir / "nodes").rglob("shards/*/*") if p.is_file()]


def test_flipped_byte_in_a_shard_is_never_served(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"rot-{uuid.uuid4().hex[:8]}"
    body = os.urandom(3 * MiB + 5)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="rotting", Body=body)
    files = shard_files(own_cluster)
    assert len(files) == 6
    # flip a byte near the end of every data shard's first chunk record: each
    # data shard is hit, so the read must decode from parity
    for path in sorted(files)[:2]:
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        path.write_bytes(bytes(raw))
    for _ in range(2):
        assert s3.get_object(Bucket=bucket, Key="rotting")["Body"].read() == body
    got = s3.get_object(Bucket=bucket, Key="rotting", Range=f"bytes={MiB}-{2 * MiB}")
    assert got["Body"].read() == body[MiB : 2 * MiB + 1]


def test_restart_finds_all_data(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"restart-{uuid.uuid4().hex[:8]}"
    objects = write_objects(s3, bucket, [10, 2 * MiB])
    own_cluster.stop()
    own_cluster.start()
    own_cluster.wait_ready(90)
    s3 = s3_client(own_cluster)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


class PatternReader:
    """A seekable, lazily generated body: never held in memory by the test."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0
        self._block = hashlib.sha256(b"seed").digest() * (MiB // 32)

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos, MiB)
        start = self.pos % len(self._block)
        out = (self._block[start:] + self._block)[:n]
        self.pos += n
        return out

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else (self.pos + pos if whence == 1 else self.size + pos)
        return self.pos

    def tell(self) -> int:
        return self.pos


def test_gateway_memory_stays_bounded(own_cluster: LocalCluster) -> None:
    size = 256 * MiB
    s3 = s3_client(own_cluster)
    bucket = f"mem-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    gateway = psutil.Process(own_cluster.processes["gateway"].pid)
    baseline = gateway.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, gateway.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        expected = hashlib.md5()
        source = PatternReader(size)
        while chunk := source.read(MiB):
            expected.update(chunk)
        s3.put_object(Bucket=bucket, Key="big", Body=PatternReader(size), ContentLength=size)
        got = hashlib.md5()
        stream = s3.get_object(Bucket=bucket, Key="big")["Body"]
        while chunk := stream.read(MiB):
            got.update(chunk)
    finally:
        done.set()
        sampler.join()
    assert got.hexdigest() == expected.hexdigest()
    growth = peak - baseline
    print(f"gateway RSS: baseline {baseline / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB")
    # Whole-object buffering would grow RSS by at least the object (1.5x with
    # parity); streaming holds a few stripes plus gRPC flow-control windows.
    assert growth < size // 2, f"gateway RSS grew {growth / MiB:.0f} MiB for {size // MiB} MiB"


def wait_for_state(s3_cluster: LocalCluster, node_id: str, state: str, timeout: float) -> None:
    """Waits until the metadata service reports node_id in state (via its metrics)."""
    import urllib.request

    url = f"http://127.0.0.1:{s3_cluster.http_port_of('metadata')}/metrics"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        line = f'tessera_metadata_nodes{{state="{state}"}}'
        counts = [ln for ln in text.splitlines() if ln.startswith(line)]
        if counts and float(counts[0].split()[-1]) >= 1:
            return
        time.sleep(0.3)
    raise TimeoutError(f"{node_id} not {state} after {timeout}s")


def test_writes_go_on_with_a_node_down(tmp_path: Path) -> None:
    cluster = start_cluster(tmp_path / "c", {"TESSERA_NODE_DOWN_GRACE_SECONDS": "3"})
    try:
        s3 = s3_client(cluster)
        s3.create_bucket(Bucket="degraded")
        cluster.kill("node-b1")
        # before the failure is detected: the shard for node-b1 fails, the
        # write quorum (k + 1 = 5) still holds
        early = os.urandom(2 * MiB + 3)
        s3.put_object(Bucket="degraded", Key="early", Body=early)
        wait_for_state(cluster, "node-b1", "down", 30)
        late = os.urandom(MiB + 9)
        s3.put_object(Bucket="degraded", Key="late", Body=late)
        assert s3.get_object(Bucket="degraded", Key="early")["Body"].read() == early
        assert s3.get_object(Bucket="degraded", Key="late")["Body"].read() == late
        # one more node lost: degraded versions still have k shards
        cluster.kill("node-c1")
        assert s3.get_object(Bucket="degraded", Key="early")["Body"].read() == early
        assert s3.get_object(Bucket="degraded", Key="late")["Body"].read() == late
    finally:
        cluster.stop()


@pytest.fixture
def gray_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster whose failure detector waits 120 s before it marks a silent
    node down: a SIGSTOPped node stays "up" (a gray failure)."""
    c = start_cluster(tmp_path / "c", {"TESSERA_NODE_DOWN_GRACE_SECONDS": "120"})
    yield c
    c.stop()


def test_a_read_of_a_hung_nodes_shard_is_hedged(gray_cluster: LocalCluster) -> None:
    """SIGSTOP the node holding data shard 0 of an object: its GETs are
    served from a spare asked once the other shards have long answered
    (shardio/hedging.py), not after the slow-chunk wait (no shard read failed
    as slow); after a few such hedges the gateway reads that node last
    (gateway/slow_nodes.py), so later GETs go to parity without hedging."""
    import signal

    cluster = gray_cluster
    s3 = s3_client(cluster, read_timeout=45)
    s3.create_bucket(Bucket="hedge")
    body = os.urandom(2 * MiB + 1)
    s3.put_object(Bucket="hedge", Key="k", Body=body)
    (first,) = (cluster.data_dir / "nodes").rglob("shards/*/*.0")
    holder = first.relative_to(cluster.data_dir / "nodes").parts[0]
    gets = 12
    cluster.signal(holder, signal.SIGSTOP)
    try:
        for i in range(gets // 2):
            assert s3.get_object(Bucket="hedge", Key="k")["Body"].read() == body, i
            ranged = s3.get_object(Bucket="hedge", Key="k", Range="bytes=1-2097151")
            assert ranged["Body"].read() == body[1:2097152], i
    finally:
        cluster.signal(holder, signal.SIGCONT)
    hedges = role_metric(cluster, "gateway", "tessera_gateway_hedged_reads_total")
    assert slow_nodes.STRIKES <= hedges < gets / 2
    # the hung node's reads are all stragglers; a hedge for a busy healthy
    # node may lose to its original and drop nothing
    stragglers = role_metric(cluster, "gateway", "tessera_gateway_stragglers_dropped_total")
    assert slow_nodes.STRIKES <= stragglers <= hedges
    assert role_metric(cluster, "gateway", "tessera_gateway_nodes_marked_slow_total") >= 1
    assert role_metric(cluster, "gateway", "tessera_gateway_degraded_stripes_total") >= gets
    assert (
        role_metric(cluster, "gateway", 'tessera_gateway_shard_read_failures_total{reason="slow"}')
        == 0
    )


def test_writes_wait_for_a_hung_node_once(gray_cluster: LocalCluster) -> None:
    """SIGSTOP a node (up for the failure detector): the first PUT waits the
    full slow-shard wait for its shard there and marks it slow
    (gateway/slow_nodes.py); the next PUTs, which place a shard on it too
    (six shards, six nodes), give that shard only the short grace once the
    write quorum is durable. Every object reads back."""
    import signal

    cluster = gray_cluster
    s3 = s3_client(cluster, read_timeout=45)
    s3.create_bucket(Bucket="slow-writes")
    bodies = {f"k{i}": os.urandom(MiB + i) for i in range(4)}
    # a first PUT connects the gateway to every node: a hung node's
    # channel that never connected fails fast instead (no SETTINGS frame)
    s3.put_object(Bucket="slow-writes", Key="before", Body=b"x" * MiB)
    cluster.signal("node-b2", signal.SIGSTOP)
    try:
        for key, body in bodies.items():
            s3.put_object(Bucket="slow-writes", Key=key, Body=body)
    finally:
        cluster.signal("node-b2", signal.SIGCONT)
    for key, body in bodies.items():
        assert s3.get_object(Bucket="slow-writes", Key=key)["Body"].read() == body, key
    assert (
        role_metric(cluster, "gateway", 'tessera_gateway_shard_writes_timed_out_total{node="up"}')
        == 1
    )
    assert (
        role_metric(cluster, "gateway", 'tessera_gateway_shard_writes_timed_out_total{node="slow"}')
        == 3
    )
    assert role_metric(cluster, "gateway", "tessera_gateway_nodes_marked_slow_total") == 1
    assert role_metric(cluster, "gateway", "tessera_gateway_degraded_writes_total") == len(bodies)


def test_a_hung_node_does_not_hold_requests(gray_cluster: LocalCluster) -> None:
    """SIGSTOP (a gray failure): the node is not marked down for a long grace
    period, yet PUT and GET go on without it (each well within the client's
    timeout, which is far shorter than the grace period)."""
    import signal

    cluster = gray_cluster
    s3 = s3_client(cluster, read_timeout=45)
    s3.create_bucket(Bucket="gray")
    before = os.urandom(2 * MiB + 1)
    s3.put_object(Bucket="gray", Key="before", Body=before)
    cluster.signal("node-b2", signal.SIGSTOP)
    try:
        during = os.urandom(3 * MiB + 7)
        s3.put_object(Bucket="gray", Key="during", Body=during)
        assert s3.get_object(Bucket="gray", Key="before")["Body"].read() == before
        assert s3.get_object(Bucket="gray", Key="during")["Body"].read() == during
    finally:
        cluster.signal("node-b2", signal.SIGCONT)
