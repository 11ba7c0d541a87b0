"""A userspace TCP proxy that adds latency and loss (tc netem is not available
on this kernel). A node advertises the proxy's port instead of its own, so
every peer that dials it (gateway, rebuilding nodes) goes through it.

Loss is modelled as what TCP makes of it: a forwarded segment is held back
for a retransmission timeout (200-600 ms) with probability `loss`. Delay is
added to every forwarded segment. The proxy runs its own event loop in a
thread and starts as a pass-through; impair()/clear() switch the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

BUFFER_BYTES = 256 * 1024


class LossyProxy:
    def __init__(self, target_host: str, target_port: int, seed: int) -> None:
        self.target = (target_host, target_port)
        self.delay_seconds = 0.0
        self.loss = 0.0
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="chaos-proxy")
        self.port = 0

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def impair(self, delay_seconds: float, loss: float) -> None:
        self.delay_seconds, self.loss = delay_seconds, loss

    def clear(self) -> None:
        self.delay_seconds, self.loss = 0.0, 0.0

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(BUFFER_BYTES):
                pause = self.delay_seconds
                if self.loss and self._rng.random() < self.loss:
                    pause += self._rng.uniform(0.2, 0.6)
                if pause:
                    await asyncio.sleep(pause)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
