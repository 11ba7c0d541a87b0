"""Metadata commits per second at 1, 16 and 64 concurrent PUT commits.

Starts the replicated metadata service as `tessera up` runs it (3 etcd
members and 3 metadata replicas on loopback, nothing else), then for each
concurrency commits object versions (the metadata half of a PUT) through
MetadataClient for a fixed time, callers spread over the replicas, and
prints commits/s with latency percentiles. Timings belong here, not in tests.

    .venv/bin/python -m bench.metadata_commits [--seconds 10] [--concurrency 1,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cli.local_cluster import Layout, LocalCluster
from metadata.client import MetadataClient
from tessera.ids import new_version_id
from tessera.model import ObjectVersion, ShardLocation

BUCKET = "bench"


def version(key: str) -> ObjectVersion:
    return ObjectVersion(
        bucket=BUCKET,
        key=key,
        version_id=new_version_id(),
        size_bytes=1 << 20,
        etag="0123456789abcdef0123456789abcdef",
        content_type="application/octet-stream",
        last_modified=time.time(),
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=tuple(ShardLocation(i, f"node-{i}") for i in range(6)),
        map_epoch=1,
    )


async def run_level(addresses: list[str], secret: str, callers: int, seconds: float) -> str:
    clients = [
        MetadataClient(",".join(addresses[i:] + addresses[:i]), secret)
        for i in range(len(addresses))
    ]
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def caller(index: int) -> None:
        client = clients[index % len(clients)]
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            started = time.perf_counter()
            await client.put_object(version(f"c{callers}/{index}/{n}"), timeout=30)
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    elapsed = time.monotonic() - started
    for client in clients:
        await client.close()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return (
        f"{callers:>3} concurrent: {len(latencies) / elapsed:7.0f} commits/s  "
        f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({len(latencies)} commits)"
    )


async def bench(addresses: list[str], secret: str, levels: list[int], seconds: float) -> None:
    async with MetadataClient(",".join(addresses), secret) as client:
        await client.create_bucket(BUCKET, "bench", timeout=30)
    for callers in levels:
        print(await run_level(addresses, secret, callers, seconds), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", default="1,16,64")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="tessera-bench-meta-") as root:
        layout = Layout.with_free_ports(Path(root), zones=3, nodes_per_zone=1)
        cluster = LocalCluster(layout)
        names = [*layout.etcd_names(), *layout.metadata_names()]
        try:
            for name in names:
                cluster.start_process(name)
            cluster.wait_ready(60, names)
            addresses = layout.metadata_addresses().split(",")
            print(
                f"metadata commits: 3 etcd members, {len(addresses)} replicas, "
                f"{args.seconds:.0f} s per level",
                flush=True,
            )
            asyncio.run(bench(addresses, cluster.credentials.cluster_secret, levels, args.seconds))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
