"""Graceful stop of the S3 endpoint: stop accepting, let running requests
finish, then close.

aiohttp's own graceful shutdown (``AppRunner.cleanup`` with a
``shutdown_timeout``) is not enough for an object store: from its first step
every connection is marked closing and its protocol drops the bytes that still
arrive (``RequestHandler.data_received`` returns early), so a PUT whose body is
still streaming in stalls and is cancelled when the timeout runs out
(aio-libs/aiohttp#2298). The gateway therefore drains before it calls
``cleanup``: the listening socket is closed (new connections are refused and
go to another gateway), requests already running keep reading their bodies
and finish, and every answer given while draining closes its connection so
keep-alive clients move on.

Invariant: a request that started before the stop completes, unless the drain
deadline passes first; only then does aiohttp cancel it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)


class Drain:
    """Counts running requests (as an aiohttp middleware) and waits for none."""

    def __init__(self) -> None:
        self.draining = False
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._running += 1
        self._idle.clear()
        try:
            response = await handler(request)
            if self.draining:
                response.force_close()
            return response
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def wait_idle(self, deadline_seconds: float) -> bool:
        """Waits until no request runs; False if deadline_seconds passed first."""
        self.draining = True
        started = time.monotonic()
        # Connections accepted just before the listener closed may not have
        # parsed their request line yet: give them a turn of the loop.
        await asyncio.sleep(0)
        if self._running:
            log.info("draining: %d requests running", self._running)
        try:
            await asyncio.wait_for(self._idle.wait(), deadline_seconds)
        except TimeoutError:
            log.warning(
                "drain deadline (%.0f s) passed with %d requests running; cancelling them",
                deadline_seconds,
                self._running,
            )
            return False
        log.info("drained in %.1f s", time.monotonic() - started)
        return True
