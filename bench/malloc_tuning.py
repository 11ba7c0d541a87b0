"""`python -m bench.malloc_tuning`: what glibc's malloc thresholds cost a
gRPC call that carries a chunk (service/malloc_tuning.py).

A bare grpc.aio server (the node's ReadChunks method, answering a fixed
chunk) and a client, each in a fresh process, with glibc's default
thresholds and with tune_malloc(); alternating, repeat after repeat. Prints
calls/s and the CPU each side spent per call (from /proc/PID/stat and
time.process_time), per chunk size. No cluster, no disk: only the RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    calls_per_second: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float


def _process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND


def _serve(port: int, chunk_bytes: int, tuned: bool, ready: EventType) -> None:
    import grpc.aio
    import uvloop

    from proto import tessera_pb2 as pb
    from proto import tessera_pb2_grpc as pb_grpc
    from proto.rpc import SERVER_OPTIONS
    from service.malloc_tuning import tune_malloc

    if tuned:
        tune_malloc()
    data = os.urandom(chunk_bytes)

    class Servicer(pb_grpc.NodeServicer):
        async def ReadChunks(self, request: object, context: object) -> pb.ReadChunksResponse:
            response = pb.ReadChunksResponse()
            chunk = response.chunks.add()
            chunk.data = data
            return response

    async def main() -> None:
        server = grpc.aio.server(options=SERVER_OPTIONS)
        pb_grpc.add_NodeServicer_to_server(Servicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    uvloop.run(main())


def _client(
    port: int, calls: int, callers: int, tuned: bool, server_pid: int, out: mp.Queue
) -> None:
    import grpc.aio
    import uvloop

    from proto import tessera_pb2 as pb
    from proto import tessera_pb2_grpc as pb_grpc
    from proto.rpc import CHANNEL_OPTIONS
    from service.malloc_tuning import tune_malloc

    if tuned:
        tune_malloc()

    async def main() -> Result:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as ch:
            stub = pb_grpc.NodeStub(ch)
            request = pb.ReadChunksRequest(version_id="bench")
            for _ in range(50):  # warm up: connection, caches
                await stub.ReadChunks(request)
            server_before = _process_cpu_seconds(server_pid)
            client_before = time.process_time()
            started = time.perf_counter()

            async def caller() -> None:
                for _ in range(calls // callers):
                    response = await stub.ReadChunks(request)
                    assert response.chunks[0].data

            await asyncio.gather(*(caller() for _ in range(callers)))
            seconds = time.perf_counter() - started
            done = calls // callers * callers
            return Result(
                done / seconds,
                1e3 * (_process_cpu_seconds(server_pid) - server_before) / done,
                1e3 * (time.process_time() - client_before) / done,
            )

    out.put(uvloop.run(main()))


def measure(port: int, chunk_bytes: int, calls: int, callers: int, tuned: bool) -> Result:
    spawn = mp.get_context("spawn")  # fresh processes: glibc's defaults unless tuned
    ready = spawn.Event()
    server = spawn.Process(target=_serve, args=(port, chunk_bytes, tuned, ready))
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("bench server did not start")
        assert server.pid is not None
        out: mp.Queue = spawn.Queue()
        client = spawn.Process(target=_client, args=(port, calls, callers, tuned, server.pid, out))
        client.start()
        result: Result = out.get(timeout=300)
        client.join()
        return result
    finally:
        server.terminate()
        server.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="25000,262144,1048576", help="chunk sizes in bytes")
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--callers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=18088)
    args = parser.parse_args(argv)
    print(
        f"{'chunk':>9} {'malloc':>8} {'calls/s':>9} {'server ms/call':>15} "
        f"{'client ms/call':>15}  (medians of {args.repeats})"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        runs: dict[bool, list[Result]] = {False: [], True: []}
        for _ in range(args.repeats):
            for tuned in (False, True):
                runs[tuned].append(measure(args.port, size, args.calls, args.callers, tuned))
        for tuned, results in runs.items():
            print(
                f"{size:>9} {'tuned' if tuned else 'default':>8} "
                f"{statistics.median(r.calls_per_second for r in results):>9.0f} "
                f"{statistics.median(r.server_cpu_ms_per_call for r in results):>15.3f} "
                f"{statistics.median(r.client_cpu_ms_per_call for r in results):>15.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
