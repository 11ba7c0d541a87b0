"""`python -m bench.node_ab`: one node-side change, A against B, measured on
two node processes side by side.

Why: node CPU per shard moves by ±30 % between runs made one after another
on this machine (a file's creation cost under /tmp drifts with the
filesystem's recent churn, docs/benchmarks.md "Where a commit and a shard
write spend their CPU"), so two runs of `bench.shard_calls` cannot resolve a
10 % change. Here both sides run at once: two node servicers (the
`bench.shard_calls --serve` child, a real ShardStore each), one started with
environment A and one with B, and blocks of whole-shard PUTs (256 KiB by
default, sent as the gateway sends them: requests on the node's
PutWholeShardStream) alternate between them, A B B A, so drift falls on both
alike. Each node's store starts with --spares pre-made spare files
(node/spares.py) so writes go over existing files as they do in a cluster
that has deleted objects; --spares 0 makes every write create a file.

Prints, per side, the median calls/s and node CPU per call (from /proc)
over the blocks, every block's CPU per call, and the median of the per-pair
ratios B/A. A measurement, never a test:

    .venv/bin/python -m bench.node_ab --b GRPC_EXPERIMENTS=-event_engine_client \\
        [--a NAME=VALUE,...] [--concurrency 8] [--block 300] [--rounds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench.run import parse_env
from bench.shard_calls import put_multiplexed, run_mode, whole_shard
from node.service import meta_from_pb
from node.shard_format import expected_file_size_bytes
from proto import wire
from proto.node_rpc import NodeStub
from proto.rpc import new_channel
from service.grpc_tuning import prefer_posix_endpoints
from service.malloc_tuning import tune_malloc

START_TIMEOUT_SECONDS = 30.0
SPARE_SLACK = 200  # spare files beyond the calls a side makes


def make_spares(folder: Path, count: int, size_bytes: int) -> None:
    """count spare files of size_bytes in folder/spares, flushed, for the
    node's store to adopt at start."""
    spares = folder / "spares"
    spares.mkdir(parents=True)
    blob = os.urandom(size_bytes)
    for i in range(count):
        (spares / f"{i:016x}").write_bytes(blob)
    os.sync()


def start_node(
    scratch: Path, label: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """A node servicer in a child process, with gRPC tuned as the CLI tunes
    every role (service/grpc_tuning.py) and then env added; (process, port)."""
    port_file = scratch / f"{label}.port"
    base = dict(os.environ)
    prefer_posix_endpoints(base, modules=())  # the child has not imported grpc yet
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.shard_calls",
            "--serve",
            str(scratch / label),
            str(port_file),
        ],
        stdin=subprocess.PIPE,
        env={**base, **env},
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not port_file.exists() or not port_file.read_text():
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"node {label} did not start")
        time.sleep(0.05)
    return child, int(port_file.read_text())


async def run_block(
    stub: NodeStub, pid: int, chunk_bytes: int, calls: int, concurrency: int
) -> tuple[float, float]:
    """calls whole-shard PUTs from concurrency tasks; (calls/s, node CPU µs per call)."""
    shards = [wire.whole_from_pb(whole_shard(chunk_bytes)) for _ in range(calls)]

    async def put(i: int) -> None:
        await put_multiplexed(stub, shards[i])

    rate, _, node_us = await run_mode(put, calls, concurrency, pid)
    return rate, node_us


async def bench(args: argparse.Namespace, ports: list[int], pids: list[int]) -> None:
    channels = [new_channel(f"127.0.0.1:{port}") for port in ports]
    stubs = [NodeStub(channel) for channel in channels]
    for stub, pid in zip(stubs, pids, strict=True):  # warm both streams
        await run_block(stub, pid, args.chunk_bytes, min(50, args.block), args.concurrency)
    results: list[list[tuple[float, float]]] = [[], []]
    for round_index in range(args.rounds):
        for side in (0, 1) if round_index % 2 == 0 else (1, 0):
            results[side].append(
                await run_block(
                    stubs[side], pids[side], args.chunk_bytes, args.block, args.concurrency
                )
            )
    for channel in channels:
        await channel.close(None)
    print(
        f"whole-shard PUTs of {args.chunk_bytes} B, concurrency {args.concurrency}, "
        f"{args.rounds} blocks of {args.block} per side, {args.spares} spare files each"
    )
    print("| side | environment | calls/s | node CPU us/call | per block |")
    print("| --- | --- | --- | --- | --- |")
    for side, (label, env) in enumerate((("A", args.a), ("B", args.b))):
        rows = results[side]
        rate = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        blocks = " ".join(f"{r[1]:.0f}" for r in rows)
        print(f"| {label} | {env or '(none)'} | {rate:.0f} | {cpu:.0f} | {blocks} |")
    for i, what in enumerate(("calls/s", "node CPU per call")):
        ratios = [b[i] / a[i] for a, b in zip(results[0], results[1], strict=True)]
        print(
            f"B/A {what}: median {statistics.median(ratios):.2f} (per pair: "
            + " ".join(f"{r:.2f}" for r in ratios)
            + ")"
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.node_ab", description=__doc__)
    p.add_argument("--a", default="", help="NAME=VALUE,... for node A (default: none)")
    p.add_argument("--b", default="", help="NAME=VALUE,... for node B")
    p.add_argument("--chunk-bytes", type=int, default=256 * 1024)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--block", type=int, default=300, help="calls per block")
    p.add_argument("--rounds", type=int, default=8, help="blocks per side")
    p.add_argument(
        "--spares", type=int, default=-1, help="pre-made spare files per node (default: enough)"
    )
    args = p.parse_args(argv)
    if args.spares < 0:
        args.spares = (args.rounds + 1) * args.block + SPARE_SLACK
    tune_malloc()  # as every role does at start; the node children tune their own
    probe = whole_shard(args.chunk_bytes)
    spare_bytes = expected_file_size_bytes(meta_from_pb(probe.header))
    with tempfile.TemporaryDirectory(prefix="node-ab-") as name:
        scratch = Path(name)
        nodes = []
        try:
            for label, env in (("a", args.a), ("b", args.b)):
                if args.spares:
                    make_spares(scratch / label, args.spares, spare_bytes)
                nodes.append(start_node(scratch, label, parse_env(env) if env else {}))
            uvloop.run(bench(args, [port for _, port in nodes], [c.pid for c, _ in nodes]))
        finally:
            for child, _ in nodes:
                assert child.stdin is not None
                child.stdin.close()
                child.wait(30)


if __name__ == "__main__":
    main()
