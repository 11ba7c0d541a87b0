"""CPU per request in each role of a LocalCluster (docs/benchmarks.md, "Where
a 1 MiB GET's CPU goes").

Starts a LocalCluster (default shape, free ports, a temporary data dir),
PUTs --objects objects of --size bytes, then GETs them from --concurrency
callers for --seconds (presigned URLs, one aiohttp session, every body's
length checked), and prints GET/s and the user and system CPU each role
(storage nodes, gateway, metadata replicas, etcd) spent per GET, and the
minor page faults it took per GET (memory touched for the first time, or
again after it was given back: docs/benchmarks.md, "Cold guest memory"),
read from /proc before and after, and how late each role's event loop ran
its timers meanwhile (p50 and p99 of tessera_event_loop_lag_seconds, as
bucket bounds: service/loop_lag.py). With --op put, the callers PUT new keys
instead (presigned URLs, so the payload is not signed: the gateway computes no
SHA-256, unlike a signed PUT's), or with --overwrite PUT over the --objects
stored keys in turn (each replaces a version whose shards are then removed,
and the nodes write later shards over their files: node/spares.py); with
--op delete they DELETE the stored
objects, each once (the run ends when they are all gone; the CPU is read a
second later, so the gateway's removal of their shards counts). With
--per-process, a row per process (which etcd member leads, which replica the
gateway writes through) instead of per role. A measurement, never a test.

    .venv/bin/python -m bench.role_cpu [--op get|put|delete] [--size 1048576] [--concurrency 16]
        [--seconds 15] [--per-process] [--overwrite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import yarl
from botocore.config import Config

from bench.run import parse_env
from cli.local_cluster import Layout, LocalCluster

READY_TIMEOUT_SECONDS = 120.0
BUCKET = "bench-role-cpu"
ROLES = ("node", "gateway", "metadata", "etcd")
RECLAIM_SETTLE_SECONDS = 1.0


@contextlib.contextmanager
def local_cluster(prefix: str, env: dict[str, str]) -> Iterator[LocalCluster]:
    """A LocalCluster of the default shape on free ports, in a temporary
    folder named from prefix, with env in every process; ready when
    entered, stopped and its folder removed on exit."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    layout = Layout.with_free_ports(scratch)
    layout.extra_env.update(env)
    cluster = LocalCluster(layout)
    cluster.start()
    try:
        cluster.wait_ready(READY_TIMEOUT_SECONDS)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def s3_client(cluster: LocalCluster) -> Any:
    """A boto3 S3 client of the cluster's admin credentials (SigV4)."""
    creds = cluster.credentials
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )


def _role(process_name: str) -> str:
    return next((r for r in ROLES if process_name.startswith(r)), process_name)


def _usage(pid: int) -> tuple[float, float, int]:
    """(user CPU seconds, system CPU seconds, minor page faults) of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick, int(fields[7])


def _snapshot(cluster: LocalCluster, per_process: bool) -> dict[str, tuple[float, float, int]]:
    """(user, system, minor faults) by role, or by process name when per_process."""
    totals: dict[str, tuple[float, float, int]] = {}
    for name, proc in cluster.processes.items():
        user, system, faults = _usage(proc.pid)
        row = name if per_process else _role(name)
        u, s, f = totals.get(row, (0.0, 0.0, 0))
        totals[row] = (u + user, s + system, f + faults)
    return totals


LAG_BUCKET = re.compile(r'^tessera_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M)


def _lag_buckets(cluster: LocalCluster, per_process: bool) -> dict[str, dict[float, float]]:
    """Cumulative event-loop lag bucket counts (bound -> samples), by role or
    process; etcd has none."""
    totals: dict[str, dict[float, float]] = {}
    for name in cluster.processes:
        if cluster.role_of(name) == "etcd":
            continue
        url = f"http://127.0.0.1:{cluster.http_port_of(name)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        row = totals.setdefault(name if per_process else _role(name), {})
        for bound, count in LAG_BUCKET.findall(text):
            row[float(bound)] = row.get(float(bound), 0.0) + float(count)
    return totals


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile q of the samples taken
    between two cumulative readings (None without samples)."""
    bounds = sorted(after)
    total = after[bounds[-1]] - before.get(bounds[-1], 0.0) if bounds else 0.0
    if total <= 0:
        return None
    for bound in bounds:
        if after[bound] - before.get(bound, 0.0) >= q * total:
            return bound
    return bounds[-1]


def _lag_text(before: dict[float, float] | None, after: dict[float, float] | None) -> str:
    if before is None or after is None:
        return ""
    p50, p99 = (lag_quantile(before, after, q) for q in (0.5, 0.99))
    if p50 is None or p99 is None:
        return ""
    return f"  {'<=' + format(p50 * 1e3, 'g'):>8}  {'<=' + format(p99 * 1e3, 'g'):>8}"


async def _load(
    url_for: Callable[[int], str],
    op: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    count: int | None = None,
) -> tuple[int, float]:
    """From concurrency callers, GETs url_for(i) (checking the body's
    length), PUTs body to it or DELETEs it, for i = 0, 1, 2... (the first
    concurrency warm the connections) until seconds have passed or, with
    count, url_for(count - 1) was asked; (requests done after the warming,
    wall s)."""
    done = 0
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str) -> None:
            async with session.get(yarl.URL(url, encoded=True)) as r:
                got = await r.read()
                if r.status != 200 or len(got) != len(body):
                    raise RuntimeError(f"GET {url}: {r.status}, {len(got)} bytes")

        async def put(url: str) -> None:
            async with session.put(yarl.URL(url, encoded=True), data=body) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"PUT {url}: {r.status}")

        async def delete(url: str) -> None:
            async with session.delete(yarl.URL(url, encoded=True)) as r:
                await r.read()
                if r.status != 204:
                    raise RuntimeError(f"DELETE {url}: {r.status}")

        call = {"get": get, "put": put, "delete": delete}[op]
        for i in range(concurrency):  # warm the connections
            await call(url_for(i))
        started = time.monotonic()
        stop_at = started + seconds

        async def caller(first: int) -> None:
            nonlocal done
            i = first
            while time.monotonic() < stop_at and (count is None or i < count):
                await call(url_for(i))
                done += 1
                i += concurrency

        await asyncio.gather(*(caller(concurrency + j) for j in range(concurrency)))
        return done, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.role_cpu", description=__doc__)
    p.add_argument("--op", choices=("get", "put", "delete"), default="get")
    p.add_argument("--size", type=int, default=1 << 20, help="object size, bytes")
    p.add_argument(
        "--objects",
        type=int,
        default=64,
        help="stored first (get: read in turn, delete: each once)",
    )
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument(
        "--env", default="", help="NAME=VALUE,... for every process (values may hold commas)"
    )
    p.add_argument("--per-process", action="store_true", help="a row per process, not per role")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="put: over the --objects stored keys in turn, not new keys",
    )
    args = p.parse_args(argv)
    env = parse_env(args.env) if args.env else {}
    with local_cluster("tessera-role-cpu-", env) as cluster:
        s3 = s3_client(cluster)
        s3.create_bucket(Bucket=BUCKET)
        body = os.urandom(args.size)
        if args.op in ("get", "delete") or args.overwrite:
            for i in range(args.objects):
                s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=body)

        def url_for(i: int) -> str:
            key = f"new{i}" if args.op == "put" and not args.overwrite else f"k{i % args.objects}"
            return str(
                s3.generate_presigned_url(
                    f"{args.op}_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=3600
                )
            )

        before = _snapshot(cluster, args.per_process)
        lag_before = _lag_buckets(cluster, args.per_process)
        count = args.objects if args.op == "delete" else None
        done, wall = asyncio.run(
            _load(url_for, args.op, body, args.concurrency, args.seconds, count)
        )
        if args.op == "delete":  # the shard removal that trails the last DELETEs counts too
            time.sleep(RECLAIM_SETTLE_SECONDS)
        after = _snapshot(cluster, args.per_process)
        lag_after = _lag_buckets(cluster, args.per_process)
    rate = done / wall
    op = args.op.upper()
    print(f"{op} {args.size} B at {args.concurrency} callers: {rate:.1f} {op}/s over {wall:.1f} s")
    print(
        f"{'role':<12}  {f'user ms/{op}':>11}  {f'sys ms/{op}':>10}  {'% of a core':>11}"
        f"  {f'faults/{op}':>11}  {'lag p50 ms':>10}  {'p99 ms':>8}"
    )
    total = 0.0
    for role in sorted(after) if args.per_process else ROLES:
        user = after[role][0] - before[role][0]
        system = after[role][1] - before[role][1]
        faults = after[role][2] - before[role][2]
        total += user + system
        print(
            f"{role:<12}  {1e3 * user / done:>11.2f}  {1e3 * system / done:>10.2f}"
            f"  {100 * (user + system) / wall:>11.0f}  {faults / done:>11.0f}"
            f"{_lag_text(lag_before.get(role), lag_after.get(role))}"
        )
    print(f"{'total':<12}  {1e3 * total / done:>11.2f} ms of CPU per {op} (user + sys)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
