"""Runs the gateway role: the S3 endpoint and its ops endpoint.

On stop (SIGTERM): /readyz turns 503, the listening socket closes, running
requests get SHUTDOWN_GRACE_SECONDS to finish (gateway/draining.py explains
why aiohttp's own shutdown cannot be used for that), then the rest closes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiohttp import web

from gateway.app import build_app
from gateway.console.server import mount_console
from gateway.draining import Drain
from gateway.state import STATE
from gateway.usage_meter import mount_flush
from gateway.website import build_website_app
from service.ops_http import start_ops_server
from service.process import run_role, setup_logging
from tessera.config import GatewaySettings, host_port
from tessera.storage_class import StorageClassError, parse_storage_classes

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0  # deploy/k8s: terminationGracePeriodSeconds leaves room for it
CLOSE_TIMEOUT_SECONDS = 2.0  # after the drain: requests still running are cancelled


async def serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    app = build_app(settings)
    drain = Drain()
    app.middlewares.append(drain.middleware)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=CLOSE_TIMEOUT_SECONDS)
    await runner.setup()

    listening: list[str] = []

    async def ready() -> str | None:
        if stop.is_set():
            return "stopping"
        if len(listening) < (2 if settings.website_listen else 1):
            return "not listening yet"
        state = app[STATE]
        if not state.cluster.loaded:
            return "cluster map not loaded"
        if len(state.cluster.candidates()) < state.policy.geometry.data_shards:
            return "fewer storage nodes up than data shards per stripe: nothing is readable"
        return None

    def mount(ops_app: web.Application) -> None:
        mount_console(ops_app, app[STATE])
        mount_flush(ops_app, app[STATE].meter)

    ops = await start_ops_server(settings.http_listen, ready, mount)
    host, port = host_port(settings.listen)
    tls = _tls_context(settings)
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=1024, ssl_context=tls)
    await site.start()
    log.info("S3 endpoint on %s://%s:%d", "https" if tls else "http", host, port)
    listening.append("s3")
    website = await _start_website(settings, app, drain, tls)
    if website is not None:
        listening.append("website")
    try:
        await stop.wait()
        await site.stop()
        for website_site in list(website.sites if website is not None else ()):
            await website_site.stop()
        await drain.wait_idle(SHUTDOWN_GRACE_SECONDS)
    finally:
        if website is not None:
            await website.cleanup()
        await runner.cleanup()
        await ops.cleanup()


async def _start_website(
    settings: GatewaySettings, s3_app: web.Application, drain: Drain, tls: ssl.SSLContext | None
) -> web.AppRunner | None:
    """The static website listener (gateway/website.py), when configured."""
    if not settings.website_listen:
        return None
    website_app = build_website_app(s3_app)
    website_app.middlewares.append(drain.middleware)
    runner = web.AppRunner(website_app, access_log=None, shutdown_timeout=CLOSE_TIMEOUT_SECONDS)
    await runner.setup()
    host, port = host_port(settings.website_listen)
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=1024, ssl_context=tls)
    await site.start()
    log.info("website endpoint on %s://%s:%d", "https" if tls else "http", host, port)
    return runner


def _tls_context(settings: GatewaySettings) -> ssl.SSLContext | None:
    if not settings.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file or None)
    return context


def main(settings: GatewaySettings) -> None:
    setup_logging(settings.log_level, "gateway")
    try:  # a malformed setting: one line and exit status 2, not a traceback
        parse_storage_classes(
            settings.storage_classes, settings.data_shards, settings.parity_shards
        )
    except StorageClassError as exc:
        log.error("bad storage classes setting (TESSERA_STORAGE_CLASSES): %s", exc)
        raise SystemExit(2) from None
    run_role(lambda stop: serve(settings, stop))
