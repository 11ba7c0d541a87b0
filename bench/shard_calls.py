"""`python -m bench.shard_calls`: the cost of one shard call, streamed or
unary, between a client (the gateway's side) and one node process.

No cluster, no HTTP: a node servicer (node/service.py, a real ShardStore in
a temporary folder) runs in a child process on 127.0.0.1, and this process
makes the calls the gateway makes for a one-stripe shard:

* ``put``: a whole one-stripe shard (header, chunk and trailer in one
  WholeShard message) as a PutShard client stream of that one message
  (``stream``, as gateways did before PutWholeShard) or as one unary
  PutWholeShard call (``unary``). The node commits either the same way
  (fdatasync, rename, folder fsync before the answer);
* ``get``: one chunk as a GetShard server stream (``stream``) or as one
  unary ReadChunks call (``unary``), read through shardio's ShardStream and
  ChunksRead, CRC32C checked, as the gateway reads;
* either, as a request on the node's long-lived ReadChunksStream or
  PutWholeShardStream (``multiplexed``, proto/call_stream.py: what gateways
  send by default).

C tasks each make calls back to back, N calls in all per mode. The modes'
order rotates repeat after repeat; the table gives per mode the calls per
second and the CPU time per call of this process (the client) and of the
node process, with the per-repeat ratios unary/stream and
multiplexed/unary. CPU time per call is the number to read on a shared machine:
it moves far less with other processes' load than wall time does. Timings
live here only: not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

from node.service import NodeIdentity, NodeServicer
from node.store import ShardStore
from proto import call_stream, wire
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.node_rpc import NodeStub, add_node_servicer
from proto.rpc import call_metadata, new_channel, new_server
from proto.wire import WholeShardMessage
from service.malloc_tuning import tune_malloc
from shardio import reader
from tessera.checksum import crc32c
from tessera.ids import new_version_id

SECRET = "bench-secret"
METADATA = call_metadata(SECRET)
TIMEOUT_SECONDS = 60.0
DATA_SHARDS = 4
TRAILER = b"x" * 430  # about a version record's trailer (docs/metadata-recovery.md)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


async def serve(folder: Path, port_file: Path) -> None:
    """The node side: one store, one servicer, until stdin closes."""
    store = ShardStore(folder)
    executor = ThreadPoolExecutor(max_workers=16)
    server = new_server(SECRET)
    servicer = NodeServicer(store, executor, NodeIdentity("bench", "zone-a", 10**12))
    add_node_servicer(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, port_file.write_text, str(port))
    await loop.run_in_executor(None, sys.stdin.read)
    await server.stop(None)
    executor.shutdown(wait=True)
    store.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def whole_shard(chunk_bytes: int) -> pb.WholeShard:
    data = os.urandom(chunk_bytes)
    whole = pb.WholeShard()
    header = whole.header
    header.bucket, header.key, header.version_id = "bench", "k", new_version_id()
    header.data_shards, header.parity_shards = DATA_SHARDS, 2
    header.chunk_size_bytes = chunk_bytes
    header.object_size_bytes = DATA_SHARDS * chunk_bytes
    header.stripe_count = 1
    whole.chunk.stripe_index = 0
    whole.chunk.data = data
    whole.chunk.crc32c = crc32c(data)
    whole.trailer = TRAILER
    return whole


async def put_stream(stub: pb_grpc.NodeStub, whole: pb.WholeShard) -> None:
    request = pb.PutShardRequest()
    request.whole.CopyFrom(whole)

    async def one() -> AsyncIterator[pb.PutShardRequest]:
        yield request

    await stub.PutShard(one(), timeout=TIMEOUT_SECONDS, metadata=METADATA)


async def put_unary(stub: NodeStub, whole: WholeShardMessage) -> None:
    await stub.PutWholeShard(whole, timeout=TIMEOUT_SECONDS, metadata=METADATA)


async def put_multiplexed(stub: NodeStub, whole: WholeShardMessage) -> None:
    await asyncio.wait_for(stub.write_stream.call(whole, METADATA), TIMEOUT_SECONDS)


class _Quiet:
    def checksum_failure(self) -> None:
        raise AssertionError("checksum failure")

    def degraded_stripe(self) -> None:
        pass

    def chunks_read(self, count: int) -> None:
        pass

    def shard_failure(self, source: reader.ShardSource, reason: str) -> None:
        raise AssertionError(reason)

    def hedged(self, count: int) -> None:
        pass

    def straggler_dropped(self, source: reader.ShardSource) -> None:
        pass


async def get_one(
    kind: type[reader.ShardStream] | type[reader.ChunksRead], source: reader.ShardSource, vid: str
) -> None:
    read = kind(source, vid, 0, 1, METADATA, TIMEOUT_SECONDS, _Quiet())
    try:
        await read.read()
    finally:
        read.cancel()


Op = Callable[[int], Coroutine[Any, Any, None]]


async def run_mode(op: Op, calls: int, concurrency: int, node_pid: int) -> tuple[float, ...]:
    """Returns (calls/s, client CPU us per call, node CPU us per call)."""
    next_call = 0

    async def worker() -> None:
        nonlocal next_call
        while next_call < calls:
            i = next_call
            next_call += 1
            await op(i)

    node_before, client_before = cpu_seconds(node_pid), time.process_time()
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    wall = time.perf_counter() - started
    client = time.process_time() - client_before
    node = cpu_seconds(node_pid) - node_before
    return calls / wall, 1e6 * client / calls, 1e6 * node / calls


async def bench(args: argparse.Namespace, port: int, node_pid: int) -> None:
    channel = new_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.NodeStub(channel)
    ours = NodeStub(channel)  # as the gateway's: hand-encoded, with the node streams
    source = reader.ShardSource(0, ours, "bench")  # reads as the gateway does
    # Shards to read, written once through the unary call.
    stored = [whole_shard(args.chunk_bytes) for _ in range(args.calls)]
    for whole in stored:
        await put_unary(ours, wire.whole_from_pb(whole))
    ids = [w.header.version_id for w in stored]

    def puts_stream() -> Op:
        """Writes fresh shards (made before the clock starts)."""
        shards = [whole_shard(args.chunk_bytes) for _ in range(args.calls)]

        async def op(i: int) -> None:
            await put_stream(stub, shards[i])

        return op

    def puts(send: Callable[[NodeStub, WholeShardMessage], Awaitable[None]]) -> Op:
        """Writes fresh shards (made before the clock starts) as the gateway
        sends them: hand-encoded, through its stub."""
        shards = [wire.whole_from_pb(whole_shard(args.chunk_bytes)) for _ in range(args.calls)]

        async def op(i: int) -> None:
            await send(ours, shards[i])

        return op

    def gets(kind: type[reader.ShardStream] | type[reader.ChunksRead], streams: bool) -> Op:
        async def op(i: int) -> None:
            call_stream.ENABLED = streams  # ChunksRead: the node stream, or a call each
            await get_one(kind, source, ids[i])

        return op

    modes: dict[str, Callable[[], Op]] = {}
    if "put" in args.ops:
        modes["put stream"] = puts_stream
        modes["put unary"] = lambda: puts(put_unary)
        modes["put multiplexed"] = lambda: puts(put_multiplexed)
    if "get" in args.ops:
        modes["get stream"] = lambda: gets(reader.ShardStream, False)
        modes["get unary"] = lambda: gets(reader.ChunksRead, False)
        modes["get multiplexed"] = lambda: gets(reader.ChunksRead, True)
    results: dict[str, list[tuple[float, ...]]] = {m: [] for m in modes}
    await run_mode(modes[next(iter(modes))](), min(50, args.calls), args.concurrency, node_pid)
    kinds = ["stream", "unary", "multiplexed"]
    for repeat in range(args.repeats):
        for op in args.ops:
            order = kinds[repeat % 3 :] + kinds[: repeat % 3]
            for kind in order:
                name = f"{op} {kind}"
                results[name].append(
                    await run_mode(modes[name](), args.calls, args.concurrency, node_pid)
                )
    await channel.close(None)
    print(
        f"chunk {args.chunk_bytes} B, concurrency {args.concurrency}, "
        f"{args.calls} calls per mode and repeat, {args.repeats} repeats"
    )
    print("| op | call | calls/s | client CPU us/call | node CPU us/call |")
    print("| --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        op, kind = name.split()
        medians = [statistics.median(r[i] for r in rows) for i in range(3)]
        print(f"| {op} | {kind} | {medians[0]:.0f} | {medians[1]:.0f} | {medians[2]:.0f} |")
    for op in args.ops:
        for new, old in (("unary", "stream"), ("multiplexed", "unary")):
            before, after = results[f"{op} {old}"], results[f"{op} {new}"]
            for i, what in enumerate(("calls/s", "client CPU/call", "node CPU/call")):
                ratios = [b[i] / a[i] for a, b in zip(before, after, strict=True)]
                print(
                    f"{op} {new}/{old} {what}: "
                    + " ".join(f"{r:.2f}" for r in ratios)
                    + f" (median {statistics.median(ratios):.2f})"
                )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunk-bytes", type=int, default=1024)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--calls", type=int, default=400)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--ops", default="put,get", type=lambda s: s.split(","))
    p.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    tune_malloc()  # as every role does at start (service/process.py), on both sides
    if args.serve:
        uvloop.run(serve(*args.serve))
        return
    with tempfile.TemporaryDirectory(prefix="shard-calls-") as scratch:
        port_file = Path(scratch) / "port"
        node = subprocess.Popen(
            [sys.executable, "-m", "bench.shard_calls", "--serve", f"{scratch}/node", port_file],
            stdin=subprocess.PIPE,
        )
        try:
            while not port_file.exists() or not port_file.read_text():
                if node.poll() is not None:
                    raise SystemExit("the node process exited")
                time.sleep(0.05)
            uvloop.run(bench(args, int(port_file.read_text()), node.pid))
        finally:
            assert node.stdin is not None
            node.stdin.close()
            node.wait(30)


if __name__ == "__main__":
    main()
