"""GET latency with one storage node hung, with and without hedged reads
(docs/erasure-coding.md, "Hedged reads").

For each setting (hedged reads on, the default; off, TESSERA_HEDGED_READS=0)
starts a LocalCluster (default shape, free ports, a temporary data dir, the
failure detector's grace long enough that the hung node stays "up"), PUTs
--objects objects of --size bytes, GETs each once with every node running,
then SIGSTOPs --node (every node holds a shard of every object in the default
shape, a data shard of two thirds of them) and GETs the objects in turn
--gets times from --concurrency callers (presigned URLs, every body's length
checked). Prints GET/s and latency quantiles for both phases, and the
gateway's hedge counters (after a few hedges the gateway reads the hung node
last for a while: gateway/slow_nodes.py). A measurement, never a test.

    .venv/bin/python -m bench.hung_node [--size 1048576] [--objects 24] [--gets 48]
        [--concurrency 1] [--node node-a1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import time

import aiohttp
import yarl

from bench.role_cpu import local_cluster, s3_client
from cli.local_cluster import metric_series

BUCKET = "bench-hung-node"
SETTINGS: tuple[tuple[str, dict[str, str]], ...] = (
    ("hedged", {}),
    ("no hedge", {"TESSERA_HEDGED_READS": "0"}),
)
COUNTERS = (
    ("hedges", "tessera_gateway_hedged_reads_total"),
    ("stragglers", "tessera_gateway_stragglers_dropped_total"),
    ("slow", 'tessera_gateway_shard_read_failures_total{reason="slow"}'),
    ("marked slow", "tessera_gateway_nodes_marked_slow_total"),
)


async def _gets(urls: list[str], size: int, concurrency: int) -> tuple[list[float], float]:
    """GETs urls from concurrency callers; (each GET's seconds, wall seconds)."""
    latencies: list[float] = []
    queue = list(reversed(urls))
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def caller() -> None:
            while queue:
                url = queue.pop()
                started = time.perf_counter()
                async with session.get(yarl.URL(url, encoded=True)) as r:
                    got = await r.read()
                if r.status != 200 or len(got) != size:
                    raise RuntimeError(f"GET {url}: {r.status}, {len(got)} bytes")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def _row(setting: str, phase: str, latencies: list[float], wall: float) -> str:
    ms = sorted(1e3 * s for s in latencies)

    def q(x: float) -> float:
        return ms[min(len(ms) - 1, int(x * len(ms)))]

    return (
        f"| {setting} | {phase} | {len(ms) / wall:.1f} | {statistics.median(ms):.1f}"
        f" | {q(0.9):.1f} | {q(0.99):.1f} | {ms[-1]:.1f} |"
    )


def _measure(setting: str, env: dict[str, str], args: argparse.Namespace) -> list[str]:
    env = {"TESSERA_NODE_DOWN_GRACE_SECONDS": "600", **env}
    with local_cluster("tessera-hung-node-", env) as cluster:
        s3 = s3_client(cluster)
        s3.create_bucket(Bucket=BUCKET)
        body = os.urandom(args.size)
        urls = []
        for i in range(args.objects):
            s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=body)
            params = {"Bucket": BUCKET, "Key": f"k{i}"}
            urls.append(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=3600))
        rows = [_row(setting, "all nodes up", *asyncio.run(_gets(urls, args.size, 1)))]
        asked = [urls[i % len(urls)] for i in range(args.gets)]
        cluster.signal(args.node, signal.SIGSTOP)
        try:
            latencies, wall = asyncio.run(_gets(asked, args.size, args.concurrency))
        finally:
            cluster.signal(args.node, signal.SIGCONT)
        rows.append(_row(setting, f"{args.node} hung", latencies, wall))
        metrics_url = f"http://{cluster.layout.host}:{cluster.layout.admin_port}/metrics"
        counts = ", ".join(
            f"{name} {metric_series(metrics_url, series) or 0:.0f}" for name, series in COUNTERS
        )
        rows.append(f"({setting}: gateway counters after both phases: {counts})")
        s3.close()
        return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hung_node", description=__doc__)
    p.add_argument("--size", type=int, default=1 << 20, help="object size, bytes")
    p.add_argument("--objects", type=int, default=24)
    p.add_argument("--gets", type=int, default=48, help="GETs while the node is hung")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--node", default="node-a1", help="the node to SIGSTOP")
    args = p.parse_args(argv)
    rows = [row for setting, env in SETTINGS for row in _measure(setting, env, args)]
    print(f"GET {args.size} B, {args.concurrency} caller(s)")
    print("| setting | phase | GET/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if row.startswith("|"):
            print(row)
    for row in rows:
        if not row.startswith("|"):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
