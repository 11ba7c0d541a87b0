"""What one etcd call costs through metadata.etcd.EtcdClient.

Starts three etcd members on free loopback ports (as `tessera up` does,
nothing else), then makes the calls on the metadata request path — a
linearizable keys-only range of the log key (every strong read's read index),
a put of a log-entry-sized value (every commit's append), and that put until
the client's own watch delivers it back (a commit as the appending replica
sees it) — sequentially and from 16 concurrent callers, and prints per cell:
calls/s, p50 and p99 latency, the etcd members' CPU per call (utime + stime
from /proc/<pid>/stat, summed over the three members) and this process's CPU
per call (the client).

--baseline FILE also measures the EtcdClient class defined in FILE, e.g. an
older transport exported with `git show REV:metadata/etcd.py > /tmp/old.py`;
the two run interleaved, repeat after repeat, and the table shows medians.

    .venv/bin/python -m bench.etcd_client [--calls 2000] [--repeats 3] [--baseline FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from cli.local_cluster import Layout, LocalCluster
from metadata.etcd import EtcdClient

LOG_KEY = b"/bench/meta/log"
ENTRY_BYTES = 400  # a small group-committed batch of metadata mutations
CALL_SECONDS = 10.0
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
OPERATIONS = ("range", "put", "commit")
LABELS = {
    "range": "range (linearizable, keys only)",
    "put": f"put ({ENTRY_BYTES} B)",
    "commit": "put, then its watch event",
}


@dataclass
class Cell:
    calls_per_second: float
    p50_ms: float
    p99_ms: float
    etcd_cpu_ms_per_call: float
    client_cpu_ms_per_call: float


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / CLOCK_TICKS_PER_SECOND


def load_client_class(path: str) -> type[Any]:
    spec = importlib.util.spec_from_file_location("etcd_baseline", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.EtcdClient  # type: ignore[no-any-return]


class WatchedPuts:
    """Puts that return once the client's own watch has delivered them back:
    a commit as a replica sees it (the append, then the entry to apply)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._value = b"x" * ENTRY_BYTES
        self._delivered = 0
        self._changed = asyncio.Condition()

    async def follow(self, start: int) -> None:
        async for _, events in self._client.watch(LOG_KEY, start, connect_timeout=CALL_SECONDS):
            async with self._changed:
                self._delivered = max(e.kv.mod_revision for e in events)
                self._changed.notify_all()

    async def __call__(self, _: int) -> None:
        revision = await self._client.put(LOG_KEY, self._value, timeout=CALL_SECONDS)
        async with self._changed:
            await self._changed.wait_for(lambda: self._delivered >= revision)


async def measure(client: Any, op: str, callers: int, calls: int, etcd_pids: list[int]) -> Cell:
    """One cell; op is "range", "put" or "commit" (a put and its watch event)."""
    if op != "commit":
        return await measure_calls(operation(client, op), callers, calls, etcd_pids)
    puts = WatchedPuts(client)
    start = (await client.range(LOG_KEY, timeout=CALL_SECONDS)).revision + 1
    async with asyncio.TaskGroup() as group:
        watching = group.create_task(puts.follow(start))
        cell = await measure_calls(puts, callers, calls, etcd_pids)
        watching.cancel()
    return cell


def operation(client: Any, op: str) -> Callable[[int], Awaitable[object]]:
    value = b"x" * ENTRY_BYTES
    if op == "range":
        return lambda _: client.range(LOG_KEY, keys_only=True, timeout=CALL_SECONDS)
    return lambda _: client.put(LOG_KEY, value, timeout=CALL_SECONDS)


async def measure_calls(
    call: Callable[[int], Awaitable[object]], callers: int, calls: int, etcd_pids: list[int]
) -> Cell:
    for i in range(20):  # warm: channels and connections open
        await call(i)
    latencies: list[float] = []
    per_caller = calls // callers

    async def caller() -> None:
        for i in range(per_caller):
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    etcd_before, client_before = cpu_seconds(etcd_pids), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - started
    etcd_cpu = cpu_seconds(etcd_pids) - etcd_before
    client_cpu = time.process_time() - client_before
    latencies.sort()
    n = len(latencies)
    return Cell(
        calls_per_second=n / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[max(0, int(n * 0.99) - 1)] * 1000,
        etcd_cpu_ms_per_call=etcd_cpu / n * 1000,
        client_cpu_ms_per_call=client_cpu / n * 1000,
    )


async def bench(
    clients: dict[str, type[Any]],
    endpoints: list[str],
    etcd_pids: list[int],
    levels: list[int],
    calls: int,
    repeats: int,
) -> dict[tuple[str, str, int], list[Cell]]:
    results: dict[tuple[str, str, int], list[Cell]] = {}
    opened = {label: cls(endpoints) for label, cls in clients.items()}
    try:
        for repeat in range(repeats):
            for op in OPERATIONS:
                for callers in levels:
                    for label, client in opened.items():
                        cell = await measure(client, op, callers, calls, etcd_pids)
                        results.setdefault((label, op, callers), []).append(cell)
                        print(
                            f"  repeat {repeat + 1}: {label:>8} {op:<5} c{callers:<3} "
                            f"p50 {cell.p50_ms:.2f} ms, etcd "
                            f"{cell.etcd_cpu_ms_per_call:.2f} ms/call",
                            flush=True,
                        )
    finally:
        for client in opened.values():
            await client.close()
    return results


def table(results: dict[tuple[str, str, int], list[Cell]]) -> str:
    rows = [
        "| client | call | callers | calls/s | p50 ms | p99 ms | etcd CPU ms/call "
        "| client CPU ms/call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(results.items(), key=lambda x: (OPERATIONS.index(x[0][1]), x[0][2]))
    for (label, op, callers), cells in ordered:

        def med(field: str, cells: list[Cell] = cells) -> float:
            return statistics.median(getattr(c, field) for c in cells)

        call = LABELS[op]
        rows.append(
            f"| {label} | {call} | {callers} | {med('calls_per_second'):,.0f} "
            f"| {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('etcd_cpu_ms_per_call'):.2f} "
            f"| {med('client_cpu_ms_per_call'):.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per cell and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--baseline", help="a file defining another EtcdClient to compare")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    clients: dict[str, type[Any]] = {"grpc": EtcdClient}
    if args.baseline:
        clients["baseline"] = load_client_class(args.baseline)
    with tempfile.TemporaryDirectory(prefix="tessera-bench-etcd-") as root:
        layout = Layout.with_free_ports(Path(root), zones=1, nodes_per_zone=1)
        cluster = LocalCluster(layout)
        names = layout.etcd_names()
        try:
            for name in names:
                cluster.start_process(name)
            cluster.wait_ready(60, names)
            pids = [cluster.processes[name].pid for name in names]
            print(
                f"etcd client: {len(names)} etcd members on loopback, {args.calls} calls "
                f"per cell, {args.repeats} repeats (medians), uvloop",
                flush=True,
            )
            results = uvloop.run(  # the loop the metadata replicas run on
                bench(
                    clients,
                    layout.etcd_client_urls().split(","),
                    pids,
                    levels,
                    args.calls,
                    args.repeats,
                )
            )
        finally:
            cluster.stop()
    print(table(results))


if __name__ == "__main__":
    main()
