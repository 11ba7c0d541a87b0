"""Workloads and fault injection for the metadata fault tests.

- PutLoad: boto3 PUTs of unique keys from threads, recording which were
  acknowledged (with ETag and body digest) and which failed;
- RegisterLoad: concurrent writes, reads and conditional writes of one key
  straight through MetadataClient (each worker prefers a different replica),
  recorded as a history for tests/integration/linearizability.py;
- etcd_leader(), replica statuses, and Isolation: a process started in its
  own cgroup (v2) whose loopback traffic iptables can drop, always removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cli.local_cluster import LocalCluster
from metadata.client import MetadataClient
from tessera import errors
from tessera.ids import new_version_id
from tessera.model import ObjectVersion
from tests.integration.harness import s3_client
from tests.integration.linearizability import FAIL, OK, UNKNOWN, Op, check

REGISTER_CALL_SECONDS = 5.0


# ---------------------------------------------------------------- S3 PUTs


@dataclass
class PutLoad:
    cluster: LocalCluster
    bucket: str
    threads: int = 4
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (etag, md5)
    failed: dict[str, str] = field(default_factory=dict)  # key -> md5 of the body sent
    acked_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(150)

    def _run(self, worker: int) -> None:
        s3 = s3_client(self.cluster)
        n = 0
        while not self._stop.is_set():
            n += 1
            key = f"w{worker}/{n:05d}"
            body = os.urandom(random.randint(100, 3000))
            digest = hashlib.md5(body).hexdigest()
            try:
                reply = s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except (ClientError, BotoCoreError):
                with self._lock:
                    self.failed[key] = digest
                time.sleep(0.05)
                continue
            with self._lock:
                self.acked[key] = (reply["ETag"], digest)
                self.acked_at.append(time.monotonic())

    def longest_gap_seconds(self) -> float:
        times = sorted(self.acked_at)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def verify(self) -> None:
        """Every acknowledged PUT reads back whole with its ETag; a failed one
        is either absent or whole (never half-written)."""
        s3 = s3_client(self.cluster)
        for key, (etag, digest) in self.acked.items():
            got = s3.get_object(Bucket=self.bucket, Key=key)
            assert got["ETag"] == etag, key
            assert hashlib.md5(got["Body"].read()).hexdigest() == digest, key
        for key, digest in self.failed.items():
            try:
                got = s3.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "NoSuchKey", (key, exc)
                continue
            assert hashlib.md5(got["Body"].read()).hexdigest() == digest, key


# ---------------------------------------------------------------- one register


def inline_version(bucket: str, key: str, etag: str) -> ObjectVersion:
    """A one-byte inline version whose ETag is the value it stands for."""
    return ObjectVersion(
        bucket=bucket,
        key=key,
        version_id=new_version_id(),
        size_bytes=1,
        etag=etag,
        content_type="text/plain",
        last_modified=time.time(),
        data_shards=1,
        parity_shards=0,
        chunk_size_bytes=1,
        placement=(),
        map_epoch=0,
        inline_data=b"x",
    )


def linearizable_run(
    cluster: LocalCluster, bucket: str, seconds: float = 8.0, **load: Any
) -> list[Op]:
    """Creates bucket, runs a RegisterLoad on it (load: its arguments) for
    seconds, and returns the history once the checker found it linearizable."""
    s3_client(cluster).create_bucket(Bucket=bucket)
    register = RegisterLoad(cluster, bucket, **load)
    register.start()
    try:
        time.sleep(seconds)
    finally:
        register.stop()
    ok, why = check(register.history)
    assert ok, why
    return register.history


class RegisterLoad:
    """Workers on one key, recording a history: some through the metadata
    replicas directly (writes, reads, If-Match and If-None-Match writes, each
    worker preferring a different replica), one through the S3 gateway with
    boto3 (PUTs of unique bodies, HEADs). Values are ETags."""

    def __init__(
        self, cluster: LocalCluster, bucket: str, workers: int = 4, s3_readers: int = 0
    ) -> None:
        self.cluster = cluster
        self.addresses = cluster.layout.metadata_addresses().split(",")
        self.secret = cluster.credentials.cluster_secret
        self.bucket = bucket
        self.key = "register"
        self.workers = workers
        self.history: list[Op] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True),
            threading.Thread(target=self._s3_worker, daemon=True),
        ] + [
            threading.Thread(target=self._s3_reader, args=(f"s3-reader-{i}",), daemon=True)
            for i in range(s3_readers)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(150)
            assert not t.is_alive()

    def _s3_worker(self) -> None:
        s3 = s3_client(self.cluster)
        while not self._stop.is_set():
            if random.random() < 0.5:
                body = os.urandom(64)
                value = hashlib.md5(body).hexdigest()
                start = time.monotonic()
                try:
                    s3.put_object(Bucket=self.bucket, Key=self.key, Body=body)
                    op = Op("write", value, OK, start, time.monotonic(), "s3")
                except (ClientError, BotoCoreError):
                    op = Op("write", value, UNKNOWN, start, math.inf, "s3")
                self.history.append(op)
                continue
            self._s3_head(s3, "s3")

    def _s3_reader(self, who: str) -> None:
        """HEADs only, through the gateway (which answers them from its
        leased records when it can: metadata/leased_records.py)."""
        s3 = s3_client(self.cluster)
        while not self._stop.is_set():
            self._s3_head(s3, who)

    def _s3_head(self, s3: Any, who: str) -> None:
        """One HEAD, recorded as a read (a failed one tells nothing)."""
        start = time.monotonic()
        try:
            head = s3.head_object(Bucket=self.bucket, Key=self.key)
            seen: str | None = head["ETag"].strip('"')
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                return
            seen = None
        except BotoCoreError:
            return
        self.history.append(Op("read", None, seen, start, time.monotonic(), who))

    async def _main(self) -> None:
        await asyncio.gather(*(self._worker(i) for i in range(self.workers)))

    async def _worker(self, index: int) -> None:
        rotated = (
            self.addresses[index % len(self.addresses) :]
            + self.addresses[: index % len(self.addresses)]
        )
        rng = random.Random(index)
        last_seen: str | None = None
        n = 0
        async with MetadataClient(",".join(rotated), self.secret) as client:
            while not self._stop.is_set():
                n += 1
                value = f"c{index}-{n}"
                roll = rng.random()
                if roll < 0.4:
                    last_seen = await self._read(client, f"c{index}") or last_seen
                elif roll < 0.75:
                    await self._write(client, "write", value, value)
                elif roll < 0.9:
                    expected = last_seen or "none"
                    await self._write(client, "cas", (expected, value), value, if_match=expected)
                else:
                    await self._write(client, "put_if_absent", value, value, if_absent=True)
                await asyncio.sleep(rng.uniform(0, 0.02))

    async def _read(self, client: MetadataClient, who: str) -> str | None:
        start = time.monotonic()
        try:
            version = await client.get_object(self.bucket, self.key, timeout=REGISTER_CALL_SECONDS)
            value: str | None = version.etag
        except errors.NoSuchKey:
            value = None
        except errors.TesseraError:
            return None  # a failed read tells nothing
        self.history.append(Op("read", None, value, start, time.monotonic(), who))
        return value

    async def _write(
        self,
        client: MetadataClient,
        kind: str,
        arg: Any,
        value: str,
        *,
        if_match: str = "",
        if_absent: bool = False,
    ) -> None:
        version = inline_version(self.bucket, self.key, value)
        start = time.monotonic()
        end = math.inf
        try:
            await client.put_object(
                version,
                timeout=REGISTER_CALL_SECONDS,
                if_match_etag=if_match,
                if_none_match_star=if_absent,
            )
            result, end = OK, time.monotonic()
        except (errors.PreconditionFailed, errors.NoSuchKey):
            result, end = FAIL, time.monotonic()
        except errors.TesseraError:
            result = UNKNOWN
        self.history.append(Op(kind, arg, result, start, end, value))


# ---------------------------------------------------------------- cluster state


def etcd_status(cluster: LocalCluster, name: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{cluster.http_port_of(name)}/v3/maintenance/status"
    request = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=3) as reply:
        body: dict[str, Any] = json.load(reply)
        return body


def etcd_leader(cluster: LocalCluster, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in cluster.layout.etcd_names():
            with contextlib.suppress(OSError, ValueError):
                status = etcd_status(cluster, name)
                if status.get("leader") == status["header"]["member_id"]:
                    return name
        time.sleep(0.2)
    raise TimeoutError("no etcd leader")


def replica_statuses(cluster: LocalCluster) -> dict[str, dict[str, Any]]:
    async def ask() -> dict[str, dict[str, Any]]:
        found = {}
        for name in cluster.layout.metadata_names():
            address = cluster.grpc_address_of(name)
            async with MetadataClient(address, cluster.credentials.cluster_secret) as c:
                found[name] = await c.replica_status(timeout=10)
        return found

    return asyncio.run(ask())


def wait_replicas_equal(cluster: LocalCluster, timeout: float = 30.0) -> dict[str, Any]:
    """Waits until every replica has applied the same revision with the same state."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = replica_statuses(cluster)
        revisions = {s["applied_revision"] for s in statuses.values()}
        digests = {s["state_digest"] for s in statuses.values()}
        if len(revisions) == 1 and len(digests) == 1:
            return statuses
        if time.monotonic() > deadline:
            raise AssertionError(f"replicas differ: {statuses}")
        time.sleep(0.5)


# ---------------------------------------------------------------- isolation


def _cgroup2_root() -> Path | None:
    with open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return Path(parts[1])
    return None


def isolation_available() -> bool:
    if os.geteuid() != 0 or shutil.which("iptables") is None or _cgroup2_root() is None:
        return False
    probe = subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True, check=False)
    return probe.returncode == 0


class Isolation:
    """A process in its own cgroup, whose outgoing loopback packets (to some
    ports, or all) iptables drops while cut() is active: a network partition
    of that one process, nothing else on the machine."""

    def __init__(self) -> None:
        root = _cgroup2_root()
        assert root is not None
        self.name = f"tessera-test-{uuid.uuid4().hex[:8]}"
        self.path = root / self.name
        self.path.mkdir()

    def command_prefix(self) -> list[str]:
        """Wraps a command so it joins the cgroup before it opens any socket."""
        procs = self.path / "cgroup.procs"
        return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]

    @contextlib.contextmanager
    def cut(self, ports: list[int] | None = None) -> Iterator[None]:
        rule = ["OUTPUT", "-o", "lo", "-m", "cgroup", "--path", self.name, "-p", "tcp"]
        if ports:
            rule += ["-m", "multiport", "--dports", ",".join(map(str, ports))]
        rule += ["-j", "DROP"]
        subprocess.run(["iptables", "-I", *rule], check=True)
        try:
            yield
        finally:
            subprocess.run(["iptables", "-D", *rule], check=True)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()
