"""The node process: shard store, gRPC server, membership, scrubber, problem
reports and ops endpoint.

serve(settings, stop) runs until stop is set, then shuts down in order: stop
heartbeating, end the callers' streams once what they asked is answered
(NodeServicer.closing is stop), stop accepting calls and give running ones
STOP_GRACE_SECONDS, close the ops endpoint and the metadata client, release
the data folder, and drain the I/O executor.

Invariant: all blocking file I/O runs in one ThreadPoolExecutor of
IO_THREADS_MAX threads, owned here and shut down last, after no call can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from metadata.client import MetadataClient
from node import metrics
from node.folder_sync import FolderSyncer
from node.identity import advertised_address, resolve_node_id, resolve_store_id
from node.membership import Membership, MembershipClient
from node.reports import ProblemClient, ProblemReporter
from node.scrubber import Scrubber
from node.service import NodeIdentity, NodeServicer
from node.store import ShardStore
from proto.node_rpc import add_node_servicer
from proto.rpc import new_server
from service.ops_http import start_ops_server
from service.process import run_role, setup_logging
from tessera.config import NodeSettings
from tessera.model import NodeInfo

log = logging.getLogger(__name__)


IO_THREADS_MAX = 16  # concurrent disk operations; several streams each wait on one
STOP_GRACE_SECONDS = 5.0


async def serve(
    settings: NodeSettings,
    stop: asyncio.Event,
    *,
    metadata_client: MembershipClient | None = None,
) -> None:
    """Runs a storage node until stop is set. metadata_client replaces the
    real MetadataClient (tests); the caller then owns and closes it."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=IO_THREADS_MAX, thread_name_prefix="node-io")
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(asyncio.to_thread, executor.shutdown, True)

        data_dir = Path(settings.data_dir)
        syncer = FolderSyncer(coalesce=settings.group_fsync)
        store = await loop.run_in_executor(
            executor, ShardStore, data_dir, syncer, settings.spare_bytes
        )
        stack.callback(store.close)
        node_id = await loop.run_in_executor(executor, resolve_node_id, data_dir, settings.node_id)
        capacity_bytes = settings.capacity_bytes
        if not capacity_bytes:
            usage = await loop.run_in_executor(executor, shutil.disk_usage, data_dir)
            capacity_bytes = usage.total
        metrics.CAPACITY_BYTES.set(capacity_bytes)
        metrics.USED_BYTES.set_function(lambda: store.used_bytes)
        metrics.SHARDS_STORED.set_function(lambda: store.shard_count)

        if not settings.cluster_secret:
            log.warning("cluster secret is empty: internal gRPC accepts any caller")
        if metadata_client is None:
            real_client = MetadataClient(settings.metadata_address, settings.cluster_secret)
            stack.push_async_callback(real_client.close)
            metadata_client = real_client
        reporter = ProblemReporter(
            metadata_client if isinstance(metadata_client, ProblemClient) else None, node_id
        )
        server = new_server(settings.cluster_secret)
        identity = NodeIdentity(node_id, settings.zone, capacity_bytes)
        add_node_servicer(
            NodeServicer(store, executor, identity, settings.cluster_secret, reporter, stop),
            server,
        )
        port = server.add_insecure_port(settings.listen)
        await server.start()
        stack.push_async_callback(server.stop, STOP_GRACE_SECONDS)

        address = advertised_address(settings.advertise_address, settings.listen, port)
        info = NodeInfo(
            node_id=node_id,
            zone=settings.zone,
            address=address,
            weight=settings.weight,
            capacity_bytes=capacity_bytes,
            store_id=await loop.run_in_executor(executor, resolve_store_id, data_dir),
        )
        membership = Membership(metadata_client, info, lambda: store.used_bytes)

        async def ready() -> str | None:
            if stop.is_set():
                return "stopping"
            if not membership.registered_once:
                return "not yet registered with metadata"
            return None

        ops = await start_ops_server(settings.http_listen, ready)
        stack.push_async_callback(ops.cleanup)
        log.info(
            "node %s (zone %s) serving shards from %s on %s, advertised as %s",
            node_id,
            settings.zone,
            data_dir,
            settings.listen,
            address,
        )

        async with asyncio.TaskGroup() as tasks:
            background = [
                tasks.create_task(membership.run(), name="membership"),
                tasks.create_task(reporter.run(), name="problem-reports"),
            ]
            if settings.scrub_rate_bytes_per_second > 0:
                scrubber = Scrubber(
                    store,
                    executor,
                    rate_bytes_per_second=settings.scrub_rate_bytes_per_second,
                    pass_interval_seconds=settings.scrub_interval_seconds,
                    on_corrupt=reporter.report,
                )
                background.append(tasks.create_task(scrubber.run(), name="scrubber"))
            await stop.wait()
            log.info("stopping: %d s grace for running calls", STOP_GRACE_SECONDS)
            for task in background:
                task.cancel()


def main(settings: NodeSettings) -> None:
    """Entry point of `tessera node`."""
    setup_logging(settings.log_level, "node")
    run_role(lambda stop: serve(settings, stop))
