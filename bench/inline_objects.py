"""PUT and GET of small objects, kept inline in the metadata record vs cut
into shards, on a cluster shaped like `tessera up --nodes-per-zone 2` (3 etcd
members, 3 metadata replicas, 3 zones x 2 nodes, 4+2, one gateway).

For each mode (inline off; inline up to 64 KiB) the gateway is restarted with
TESSERA_INLINE_MAX_BYTES set, then for each object size boto3 callers PUT
for a fixed time, then GET what they wrote. Prints requests/s and latency
percentiles per cell. Timings belong here, not in tests.

    .venv/bin/python -m bench.inline_objects [--seconds 6] [--callers 4] [--sizes 1024,4096]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cli.local_cluster import Layout, LocalCluster
from tests.integration.harness import s3_client

BUCKET = "bench-inline"


def timed(callers: int, seconds: float, op) -> list[float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def caller(index: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            op(index, n)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
            n += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def row(label: str, latencies: list[float], seconds: float) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (
        f"{label:<28} {len(latencies) / seconds:8.1f}/s  "
        f"p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms"
    )


def restart_gateway(cluster: LocalCluster, inline_max_bytes: int) -> None:
    cluster.stop_process("gateway")
    cluster.layout.extra_env["TESSERA_INLINE_MAX_BYTES"] = str(inline_max_bytes)
    cluster.start_process("gateway")
    cluster.wait_ready(60, ["gateway"])


def cell(clients: list, mode: str, size: int, seconds: float) -> None:  # type: ignore[type-arg]
    body = os.urandom(size)
    written: list[str] = []

    def put(i: int, n: int) -> None:
        key = f"{mode}/{size}/{i}/{n}"
        clients[i].put_object(Bucket=BUCKET, Key=key, Body=body)
        written.append(key)

    def get(i: int, n: int) -> None:
        key = written[(i * 7919 + n) % len(written)]
        clients[i].get_object(Bucket=BUCKET, Key=key)["Body"].read()

    puts = timed(len(clients), seconds, put)
    print(row(f"PUT {size:>6} B {mode}", puts, seconds), flush=True)
    gets = timed(len(clients), seconds, get)
    print(row(f"GET {size:>6} B {mode}", gets, seconds), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--callers", type=int, default=4)
    parser.add_argument("--sizes", default="1024,4096,16384,65536")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout.with_free_ports(Path(tmp), zones=3, nodes_per_zone=2)
        with LocalCluster(layout) as cluster:
            cluster.start()
            cluster.wait_ready(120)
            s3_client(cluster).create_bucket(Bucket=BUCKET)
            for mode, limit in (("shards", 0), ("inline", 64 * 1024)):
                restart_gateway(cluster, limit)
                clients = [s3_client(cluster) for _ in range(args.callers)]
                for size in sizes:
                    cell(clients, mode, size, args.seconds)


if __name__ == "__main__":
    main()
