"""The replicated metadata service under faults, on a real cluster: 3 etcd
members, 3 metadata replicas, boto3 PUTs through the gateway, and a
single-key history (writes, reads, conditional writes) recorded straight
through the replicas and checked for linearizability.

Faults: kill -9 of a replica and of the etcd leader; SIGSTOP (a hang) of the
etcd leader and of a replica; a replica cut off from etcd and an etcd member
cut off from everything (iptables on its loopback packets, via its cgroup);
a replica whose data directory is wiped, which must come back from a
checkpoint because the log was compacted meanwhile.

Each test has its own cluster, since it breaks it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.faults import (
    Isolation,
    PutLoad,
    RegisterLoad,
    etcd_leader,
    etcd_status,
    isolation_available,
    wait_replicas_equal,
)
from tests.integration.harness import s3_client, start_cluster
from tests.integration.linearizability import check

pytestmark = pytest.mark.integration

# Generous: the point is that service resumes, not how fast (bench/ measures).
RESUME_SECONDS_MAX = 20.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path / "cluster")
    yield c
    c.stop()


def run_loads(cluster: LocalCluster, faults: object) -> tuple[PutLoad, RegisterLoad]:
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket="faults")
    s3.create_bucket(Bucket="register")
    puts = PutLoad(cluster, "faults")
    register = RegisterLoad(cluster, "register")
    puts.start()
    register.start()
    try:
        time.sleep(2)
        faults()  # type: ignore[operator]
        time.sleep(3)
    finally:
        puts.stop()
        register.stop()
    return puts, register


def check_outcome(cluster: LocalCluster, puts: PutLoad, register: RegisterLoad) -> None:
    gap = puts.longest_gap_seconds()
    print(
        f"PUTs: {len(puts.acked)} acknowledged, {len(puts.failed)} failed; "
        f"longest gap between acknowledgements {gap:.1f} s; "
        f"register history: {len(register.history)} operations "
        f"({sum(op.client == 's3' for op in register.history)} through S3)"
    )
    assert len(puts.acked) > 20
    assert gap < RESUME_SECONDS_MAX
    puts.verify()
    ok, why = check(register.history)
    assert ok, why
    statuses = wait_replicas_equal(cluster)
    print(f"replicas equal at revision {next(iter(statuses.values()))['applied_revision']}")


def test_kill_9_of_a_replica_and_of_the_etcd_leader(cluster: LocalCluster) -> None:
    def faults() -> None:
        # metadata-1 is the replica the gateway and a third of the workers use first
        cluster.kill("metadata-1")
        time.sleep(3)
        cluster.start_process("metadata-1")
        cluster.wait_ready(60, ["metadata-1"])
        leader = etcd_leader(cluster)
        cluster.kill(leader)
        time.sleep(4)
        cluster.start_process(leader)
        cluster.wait_ready(60, [leader])

    puts, register = run_loads(cluster, faults)
    check_outcome(cluster, puts, register)


def test_hangs_sigstop_of_the_etcd_leader_and_of_a_replica(cluster: LocalCluster) -> None:
    def faults() -> None:
        leader = etcd_leader(cluster)
        cluster.signal(leader, signal.SIGSTOP)
        try:
            time.sleep(4)
        finally:
            cluster.signal(leader, signal.SIGCONT)
        time.sleep(2)
        cluster.signal("metadata-2", signal.SIGSTOP)
        try:
            time.sleep(4)
        finally:
            cluster.signal("metadata-2", signal.SIGCONT)

    puts, register = run_loads(cluster, faults)
    check_outcome(cluster, puts, register)


@pytest.mark.skipif(not isolation_available(), reason="needs root, iptables and cgroup v2")
def test_cut_off_a_replica_from_etcd_and_an_etcd_member_from_everyone(
    cluster: LocalCluster,
) -> None:
    replica_cut, member_cut = Isolation(), Isolation()
    try:
        # Restart one replica and one etcd member inside their own cgroups.
        member = etcd_leader(cluster)
        for name, isolation in (("metadata-3", replica_cut), (member, member_cut)):
            cluster.stop_process(name)
            cluster.start_process(name, command_prefix=isolation.command_prefix())
        cluster.wait_ready(60, ["metadata-3", member])
        etcd_ports = [
            cluster.layout.etcd_port_pair(i)[0] for i in range(len(cluster.layout.etcd_names()))
        ]

        def faults() -> None:
            # Clients still reach metadata-3, but it cannot reach etcd: it must
            # neither serve stale reads nor lose writes.
            with replica_cut.cut(etcd_ports):
                time.sleep(5)
            time.sleep(2)
            # The member (the leader when the test started) hears and is heard by no one.
            with member_cut.cut():
                time.sleep(5)
            cluster.wait_ready(60, [member])

        puts, register = run_loads(cluster, faults)
        check_outcome(cluster, puts, register)
    finally:
        cluster.stop()
        replica_cut.remove()
        member_cut.remove()


def test_a_wiped_replica_comes_back_from_a_checkpoint(tmp_path: Path) -> None:
    fast_compaction = {
        "TESSERA_COMPACTION_INTERVAL_SECONDS": "1",
        "TESSERA_COMPACTION_MIN_REVISIONS": "1",
    }
    cluster = start_cluster(tmp_path / "cluster", fast_compaction)
    try:
        s3 = s3_client(cluster)
        s3.create_bucket(Bucket="wipe")
        before = {f"before/{i}": os.urandom(200) for i in range(20)}
        for key, body in before.items():
            s3.put_object(Bucket="wipe", Key=key, Body=body)
        cluster.kill("metadata-3")
        shutil.rmtree(cluster.metadata_data_dir("metadata-3"))
        # Writable throughout; the log is compacted past everything metadata-3 had.
        during = {f"during/{i}": os.urandom(200) for i in range(20)}
        for key, body in during.items():
            s3.put_object(Bucket="wipe", Key=key, Body=body)
        compacted_past = etcd_status(cluster, "etcd-1")["header"]["revision"]
        deadline = time.monotonic() + 30
        while not _compacted_beyond(cluster, int(compacted_past) - 1):
            assert time.monotonic() < deadline, "the log was never compacted"
            time.sleep(0.5)
        cluster.start_process("metadata-3")
        cluster.wait_ready(60, ["metadata-3"])
        assert "installed a checkpoint from" in cluster.log_path("metadata-3").read_text()
        after = {f"after/{i}": os.urandom(200) for i in range(5)}
        for key, body in after.items():
            s3.put_object(Bucket="wipe", Key=key, Body=body)
        statuses = wait_replicas_equal(cluster)
        assert statuses["metadata-3"]["key_count"] > 45
        for key, body in {**before, **during, **after}.items():
            assert s3.get_object(Bucket="wipe", Key=key)["Body"].read() == body
    finally:
        cluster.stop()


def _compacted_beyond(cluster: LocalCluster, revision: int) -> bool:
    """True once etcd no longer has the history at revision (it was compacted)."""
    url = f"http://127.0.0.1:{cluster.http_port_of('etcd-1')}/v3/kv/range"
    body = json.dumps({"key": "eA==", "revision": str(revision)}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=3) as r:
            reply = json.load(r)
    except urllib.error.HTTPError as exc:
        reply = json.load(exc)
    return "compacted" in str(reply.get("error", ""))
