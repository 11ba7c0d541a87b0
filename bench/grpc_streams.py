"""CPU per message of grpc.aio: one unary call per message against one
long-lived bidirectional stream carrying them all (docs/benchmarks.md, "Where
a 1 MiB GET's CPU goes").

A grpc.aio server process answers a small request with --size bytes, first
as a unary call per message, then as messages on one stream, where requests
carry an id and the answers are matched back to their callers. --concurrency
requests are in flight either way. Both processes use the roles' malloc
tuning (service/malloc_tuning.py). Prints messages/s and the CPU per message
of the server and of the client. A measurement, never a test.

    .venv/bin/python -m bench.grpc_streams [--size 262144] [--messages 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import uvloop

from service.malloc_tuning import tune_malloc

OPTIONS = [
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.max_receive_message_length", 64 << 20),
]
ID = struct.Struct(">Q")
CALL_TIMEOUT_SECONDS = 10.0  # a unary call
STREAM_TIMEOUT_SECONDS = 300.0  # the one stream, for the whole measurement


def _serve(port: int, size: int, ready: Any) -> None:
    tune_malloc()
    answer = os.urandom(size)

    async def unary(request: bytes, context: Any) -> bytes:
        return answer

    async def stream(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request[: ID.size] + answer

    async def main() -> None:
        server = grpc.aio.server(options=OPTIONS)
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.stream_stream_rpc_method_handler(stream),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("b.B", handlers),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    uvloop.run(main())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _measure(port: int, server_pid: int, messages: int, concurrency: int) -> list[str]:
    lines = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS) as channel:
        unary = channel.unary_unary("/b.B/Unary", None, None)  # bytes as they are
        call = channel.stream_stream("/b.B/Stream", None, None)(
            None, timeout=STREAM_TIMEOUT_SECONDS
        )  # requests written
        waiting: dict[int, asyncio.Future[bytes]] = {}
        write_lock = asyncio.Lock()  # one write at a time on a stream
        next_id = 0

        async def demux() -> None:
            async for answer in call:
                waiting.pop(ID.unpack(answer[: ID.size])[0]).set_result(answer)

        async def on_stream() -> bytes:
            nonlocal next_id
            request_id, next_id = next_id, next_id + 1
            future = asyncio.get_running_loop().create_future()
            waiting[request_id] = future
            async with write_lock:
                await call.write(ID.pack(request_id))
            return await future

        async def one_unary() -> bytes:
            answer: bytes = await unary(b"x" * ID.size, timeout=CALL_TIMEOUT_SECONDS)
            return answer

        reader = asyncio.create_task(demux())
        for label, send in (("unary call each", one_unary), ("one stream", on_stream)):
            for _ in range(50):
                await send()
            server_before, client_before = _cpu_seconds(server_pid), time.process_time()
            started = time.perf_counter()

            async def caller(send: Any = send) -> None:
                for _ in range(messages // concurrency):
                    await send()

            await asyncio.gather(*(caller() for _ in range(concurrency)))
            wall = time.perf_counter() - started
            server_ms = 1e3 * (_cpu_seconds(server_pid) - server_before) / messages
            client_ms = 1e3 * (time.process_time() - client_before) / messages
            lines.append(
                f"{label:<16}  {messages / wall:>10.0f}  {server_ms:>10.3f}  {client_ms:>10.3f}"
                f"  {server_ms + client_ms:>9.3f}"
            )
        await call.done_writing()
        reader.cancel()
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.grpc_streams", description=__doc__)
    p.add_argument("--size", type=int, default=256 * 1024, help="answer size, bytes")
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args(argv)
    tune_malloc()
    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, args.size, ready), daemon=True)
    server.start()
    try:
        ready.wait(30)
        assert server.pid is not None
        lines = uvloop.run(_measure(port, server.pid, args.messages, args.concurrency))
    finally:
        server.terminate()
        server.join()
    print(f"{args.size} B answers, {args.concurrency} in flight")
    print(f"{'how':<16}  {'messages/s':>10}  {'server ms':>10}  {'client ms':>10}  {'total ms':>9}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
