"""The ops HTTP endpoint every role serves: /metrics, /healthz and /readyz.

/healthz answers 200 while the process's event loop runs; /readyz answers 200
only while the role's readiness check passes (e.g. a node registered with
metadata), else 503 with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import prometheus_client
from aiohttp import web

from tessera.config import host_port

ReadyCheck = Callable[[], Awaitable[str | None]]  # None: ready; else the reason


def add_ops_routes(app: web.Application, ready: ReadyCheck) -> None:
    """Adds /metrics, /healthz and /readyz to an existing application."""

    async def metrics(_: web.Request) -> web.Response:
        body = prometheus_client.generate_latest()
        content_type = prometheus_client.CONTENT_TYPE_LATEST
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = await ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def start_ops_server(
    address: str,
    ready: ReadyCheck,
    extend: Callable[[web.Application], None] | None = None,
) -> web.AppRunner:
    """Starts the ops endpoint on address; the caller cleans the runner up.

    extend, when given, adds a role's own routes (the gateway's console) first.
    """
    app = web.Application()
    add_ops_routes(app, ready)
    if extend is not None:
        extend(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = host_port(address)
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner
