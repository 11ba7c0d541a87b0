"""The metadata role's process: open the state, serve gRPC and the ops endpoint.

Lifetime, in order: ops endpoint (alive, not ready) → state database opened
(ready) → commit log → gRPC server; on stop, the reverse: readiness drops, the
gRPC server drains in-flight calls, the commit log commits what it queued, the
read threads finish, and the database is flushed and closed.

Invariant: the database is closed only after nothing can touch it any more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from metadata.commit import CommitLog
from metadata.liveness import Liveness
from metadata.service import MetadataService, add_to_server
from metadata.state import StateMachine, open_db
from proto.rpc import new_server
from service.ops_http import start_ops_server
from service.process import run_role, setup_logging
from tessera.config import MetadataSettings

log = logging.getLogger(__name__)

READ_THREADS = 8
SHUTDOWN_GRACE_SECONDS = 5.0
LIVENESS_REFRESH_SECONDS = 1.0


class _Readiness:
    """Ready while the database is open and the gRPC server is taking calls.

    Failed commits do not make the service unready (an unready replica gets no
    writes, so it could never see one succeed again); they are counted in
    tessera_metadata_commit_failures_total and logged.
    """

    def __init__(self) -> None:
        self.reason: str | None = "opening the state database"

    async def check(self) -> str | None:
        return self.reason


async def serve(settings: MetadataSettings, stop: asyncio.Event) -> None:
    """Runs the metadata service until stop is set, then shuts down cleanly."""
    loop = asyncio.get_running_loop()
    readiness = _Readiness()
    ops = await start_ops_server(settings.http_listen, readiness.check)
    reads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="metadata-read")
    try:
        db = await loop.run_in_executor(reads, open_db, settings.data_dir)
        try:
            state = StateMachine(db)
            log.info(
                "state opened at %s, applied position %d", settings.data_dir, state.applied_position
            )
            liveness = Liveness(
                settings.node_down_grace_seconds, initial_epoch=int(time.time() * 1000)
            )
            liveness.load(await loop.run_in_executor(reads, state.list_nodes), time.time())
            async with CommitLog(state, settings.group_commit_window_seconds) as commit_log:
                service = MetadataService(state, commit_log, liveness, reads)
                await _serve_grpc(settings, service, stop, readiness)
        finally:
            readiness.reason = "stopped"
            await asyncio.to_thread(reads.shutdown, True)
            await asyncio.to_thread(db.close)
            log.info("state closed")
    finally:
        reads.shutdown(wait=False)
        await ops.cleanup()


async def _serve_grpc(
    settings: MetadataSettings,
    service: MetadataService,
    stop: asyncio.Event,
    readiness: _Readiness,
) -> None:
    server = new_server(settings.cluster_secret)
    add_to_server(service, server)
    server.add_insecure_port(settings.listen)
    await server.start()
    log.info("metadata serving gRPC on %s", settings.listen)
    readiness.reason = None
    try:
        async with asyncio.TaskGroup() as tasks:
            refresher = tasks.create_task(_refresh_liveness(service))
            await stop.wait()
            refresher.cancel()
    finally:
        readiness.reason = "stopping"
        await server.stop(SHUTDOWN_GRACE_SECONDS)


async def _refresh_liveness(service: MetadataService) -> None:
    while True:
        service.refresh_liveness()
        await asyncio.sleep(LIVENESS_REFRESH_SECONDS)


def main(settings: MetadataSettings) -> None:
    setup_logging(settings.log_level, "metadata")
    run_role(lambda stop: serve(settings, stop))
