"""The metadata role's process: open the state, follow the log, serve gRPC.

Two shapes, by configuration:
- replicated (etcd_endpoints set; what `tessera up` and production run): the
  state follows the shared log in etcd (metadata/follower.py), writes are
  appended to it (metadata/shared_log.py), node liveness lives in etcd
  leases, and the replica registers itself so the log can be compacted;
  a new, wiped or hopelessly behind replica first installs a checkpoint
  from a live peer (metadata/checkpoint.py);
- single (no etcd): the CommitLog applies writes straight into the state;
  liveness is kept in memory. For development and unit tests only: it
  survives no machine loss.

Lifetime, in order: ops endpoint (alive, not ready) → state database opened
→ log → gRPC server → caught up with the log (ready); on stop, the reverse:
readiness drops, the gRPC server drains in-flight calls, the log commits what
it queued, background tasks stop, and the database is flushed and closed.

Invariant: the database is closed only after nothing can touch it any more;
the data directory is replaced (by a checkpoint) only while it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from metadata import checkpoint, logformat, metrics
from metadata.client import MetadataClient, parse_addresses
from metadata.commit import CommitLog, MutationLog
from metadata.election import EtcdLeadership, Leadership
from metadata.etcd import EtcdClient, EtcdError
from metadata.follower import Follower
from metadata.gc import GarbageCollector
from metadata.lifecycle import LifecycleWorker
from metadata.liveness import LocalLiveness
from metadata.membership import EtcdLiveness
from metadata.node_stubs import NodeStubs
from metadata.read_lease import PeerClients, ReadLeases, StrongReads, keep_lease
from metadata.record_leases import RecordLeases
from metadata.repair import RepairScheduler
from metadata.replicas import ReplicaRegistry
from metadata.service import LocalLivenessSource, MetadataService, Replica, add_to_server
from metadata.shared_log import SharedLog
from metadata.state import StateMachine, open_db
from proto.rpc import new_server
from service.ops_http import start_ops_server
from service.process import run_role, setup_logging
from tessera import errors
from tessera.config import MetadataSettings

log = logging.getLogger(__name__)

READ_THREADS = 8
SHUTDOWN_GRACE_SECONDS = 5.0
LIVENESS_REFRESH_SECONDS = 1.0
LIVENESS_CALL_SECONDS = 5.0
CATCH_UP_TIMEOUT_SECONDS = 10.0
CHECKPOINT_TIMEOUT_SECONDS = 600.0
BOOTSTRAP_RETRY_SECONDS = 2.0
# How often a replica looks again for the etcd leader (_prefer_etcd_leader).
ETCD_LEADER_CHECK_SECONDS = 5.0
# Idempotency records are kept for this many log revisions (replicated) — a
# client's retries come within its request deadline, long before that.
REQUEST_RETENTION_REVISIONS = 100_000


class _Readiness:
    """Ready while the state is open, caught up with the log, and the gRPC
    server is taking calls. Failed commits do not make the service unready
    (they are counted in tessera_metadata_commit_failures_total and logged)."""

    def __init__(self) -> None:
        self.reason: str | None = "opening the state database"

    async def check(self) -> str | None:
        return self.reason


async def serve(settings: MetadataSettings, stop: asyncio.Event) -> None:
    """Runs the metadata service until stop is set, then shuts down cleanly."""
    readiness = _Readiness()
    ops = await start_ops_server(settings.http_listen, readiness.check)
    reads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="metadata-read")
    try:
        if settings.etcd_endpoints:
            await _serve_replicated(settings, stop, readiness, reads)
        else:
            await _serve_single(settings, stop, readiness, reads)
    finally:
        readiness.reason = "stopped"
        reads.shutdown(wait=False)
        await ops.cleanup()


# ---------------------------------------------------------------- single replica


async def _serve_single(
    settings: MetadataSettings,
    stop: asyncio.Event,
    readiness: _Readiness,
    reads: ThreadPoolExecutor,
) -> None:
    loop = asyncio.get_running_loop()
    db = await loop.run_in_executor(reads, open_db, settings.data_dir)
    try:
        state = StateMachine(db, record_cache_bytes=settings.record_cache_bytes)
        metrics.watch_usage(state.cluster_usage)
        log.info(
            "state opened at %s, applied position %d", settings.data_dir, state.applied_position
        )
        local = LocalLiveness(
            settings.node_down_grace_seconds, initial_revision=int(time.time() * 1000)
        )
        view = await loop.run_in_executor(reads, state.cluster_map)
        local.load([n.node_id for n in view.nodes], time.time())
        async with CommitLog(state, settings.group_commit_window_seconds) as commit_log:
            repair = _Repair(settings, state, commit_log, _no_wait, reads, Leadership("single"))
            service = MetadataService(
                state,
                commit_log,
                LocalLivenessSource(local, time.time),
                reads,
                repair=repair.scheduler,
            )
            await _serve_grpc(settings, service, stop, readiness, repair=repair)
    finally:
        await asyncio.to_thread(reads.shutdown, True)
        await asyncio.to_thread(db.close)
        log.info("state closed")


# ---------------------------------------------------------------- replicated


async def _serve_replicated(
    settings: MetadataSettings,
    stop: asyncio.Event,
    readiness: _Readiness,
    reads: ThreadPoolExecutor,
) -> None:
    prefix = settings.etcd_prefix.rstrip("/").encode()
    address = settings.advertise_address or settings.listen
    replica_id = settings.replica_id or f"replica-{address}"
    async with EtcdClient(
        [e.strip() for e in settings.etcd_endpoints.split(",") if e.strip()]
    ) as etcd:
        must_bootstrap = False
        while not stop.is_set():
            readiness.reason = "bootstrapping"
            if not await _ensure_state(settings, etcd, prefix, replica_id, must_bootstrap, stop):
                return
            lost = await _run_replica(
                settings, etcd, prefix, replica_id, address, stop, readiness, reads
            )
            if not lost:
                return
            log.error("this replica fell behind the compacted log; fetching a checkpoint")
            must_bootstrap = True


async def _ensure_state(
    settings: MetadataSettings,
    etcd: EtcdClient,
    prefix: bytes,
    replica_id: str,
    must: bool,
    stop: asyncio.Event,
) -> bool:
    """Installs a peer's checkpoint if this replica has no state (or must);
    returns False if stopped first."""
    data_dir = Path(settings.data_dir)
    if not must and await asyncio.to_thread(_has_state, data_dir):
        return True
    registry = ReplicaRegistry(etcd, prefix + b"/meta/replicas/", replica_id, "", lambda: 0)
    while not stop.is_set():
        try:
            if settings.peers:
                peers = parse_addresses(settings.peers)
            else:
                peers = [p.address for p in await registry.peers() if p.applied_revision > 0]
        except EtcdError as exc:
            log.warning("cannot list peers yet: %s", exc)
            peers = []
        for peer in peers:
            try:
                async with MetadataClient(peer, settings.cluster_secret) as client:
                    chunks = client.fetch_checkpoint(timeout=CHECKPOINT_TIMEOUT_SECONDS)
                    await checkpoint.install(chunks, data_dir)
                log.info("installed a checkpoint from %s", peer)
                return True
            except (errors.TesseraError, OSError, ValueError) as exc:
                log.warning("checkpoint from %s failed: %s", peer, exc)
        if not peers and not must:
            log.info("no peer has state yet: starting empty, from the start of the log")
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), BOOTSTRAP_RETRY_SECONDS)
    return False


def _has_state(data_dir: Path) -> bool:
    if not data_dir.exists():
        return False
    db = open_db(str(data_dir))
    try:
        return StateMachine(db).applied_position > 0
    finally:
        db.close()


async def _run_replica(
    settings: MetadataSettings,
    etcd: EtcdClient,
    prefix: bytes,
    replica_id: str,
    address: str,
    stop: asyncio.Event,
    readiness: _Readiness,
    reads: ThreadPoolExecutor,
) -> bool:
    """Serves until stop (returns False) or until the log was compacted past
    this replica (returns True, with the state closed and moved aside)."""
    loop = asyncio.get_running_loop()
    log_key = prefix + b"/meta/log"
    db = await loop.run_in_executor(reads, open_db, settings.data_dir)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metadata-apply")
    lost = False
    try:
        state = StateMachine(
            db,
            REQUEST_RETENTION_REVISIONS * logformat.ENTRY_MUTATIONS_MAX,
            record_cache_bytes=settings.record_cache_bytes,
        )
        metrics.watch_usage(state.cluster_usage)
        shared = SharedLog(etcd, log_key, replica_id, settings.group_commit_window_seconds)
        follower = Follower(etcd, state, writer, log_key, shared.on_applied)
        shared.follower = follower
        log.info(
            "replica %s: state at %s, applied revision %d",
            replica_id,
            settings.data_dir,
            follower.applied_revision,
        )
        registry = ReplicaRegistry(
            etcd,
            prefix + b"/meta/replicas/",
            replica_id,
            address,
            lambda: follower.applied_revision,
            make_durable=lambda: asyncio.to_thread(state.sync_wal),
        )
        liveness = EtcdLiveness(etcd, prefix + b"/nodes/live/", settings.node_down_grace_seconds)
        scratch = Path(settings.data_dir).parent
        peer_clients = PeerClients(settings.cluster_secret)
        leases: ReadLeases | None = None
        record_leases: RecordLeases | None = None
        if settings.read_lease_seconds > 0:
            leases = ReadLeases(
                replica_id,
                address,
                settings.read_lease_seconds,
                peer_clients.ask_applied,
                follower.read_index,
            )
            follower.on_lease = leases.applied
            shared.leases = leases
            record_leases = RecordLeases(leases)
            follower.before_commit = record_leases.before_commit
            shared.record_leases = record_leases
        strong_reads = StrongReads(follower.read_index, lambda: follower.applied_revision, leases)
        replica = Replica(
            replica_id,
            follower.read_index,
            scratch,
            strong_reads,
            follower.wait_applied,
            record_leases,
        )
        leadership = EtcdLeadership(etcd, prefix + b"/meta/repair-leader", replica_id)
        repair = _Repair(settings, state, shared, follower.read_index, reads, leadership)
        service = MetadataService(
            state, shared, liveness, reads, replica=replica, repair=repair.scheduler
        )
        async with asyncio.TaskGroup() as tasks:
            following = tasks.create_task(follower.run(), name="metadata-follower")
            background = [
                tasks.create_task(registry.run(), name="metadata-registry"),
                tasks.create_task(_prefer_etcd_leader(etcd), name="metadata-etcd-leader"),
                tasks.create_task(
                    registry.compact_forever(
                        log_key,
                        settings.compaction_interval_seconds,
                        settings.compaction_min_revisions,
                    ),
                    name="metadata-compactor",
                ),
            ]
            if leases is not None:
                background.append(
                    tasks.create_task(keep_lease(leases, shared), name="metadata-read-lease")
                )
            try:
                async with shared:
                    caught_up = _catch_up(follower, stop)
                    lost = await _serve_grpc(
                        settings, service, stop, readiness, caught_up, following, repair
                    )
            finally:
                following.cancel()
                for task in background:
                    task.cancel()
                shared.abandon_pending()
                await peer_clients.close()
    finally:
        await asyncio.to_thread(writer.shutdown, True)
        await asyncio.to_thread(db.close)
        log.info("state closed")
    if lost:
        stale = Path(settings.data_dir).with_name(Path(settings.data_dir).name + ".stale")
        await asyncio.to_thread(_move_aside, Path(settings.data_dir), stale)
    return lost


async def _prefer_etcd_leader(etcd: EtcdClient) -> None:
    """Keeps this replica's etcd calls on the leader's endpoint (a follower
    forwards them: docs/metadata.md, "Talking to etcd"); checked again every
    ETCD_LEADER_CHECK_SECONDS, since an election moves the leader."""
    while True:
        try:
            await etcd.prefer_leader(timeout=ETCD_LEADER_CHECK_SECONDS)
        except Exception:  # a cost lever only: never let it end the replica
            log.exception("could not look for the etcd leader")
        await asyncio.sleep(ETCD_LEADER_CHECK_SECONDS)


def _move_aside(data_dir: Path, stale: Path) -> None:
    shutil.rmtree(stale, ignore_errors=True)
    data_dir.rename(stale)


async def _catch_up(follower: Follower, stop: asyncio.Event) -> None:
    """Returns once the replica has applied the log's head as of startup."""
    while not stop.is_set():
        try:
            await follower.read_index(CATCH_UP_TIMEOUT_SECONDS)
            return
        except errors.TesseraError as exc:
            log.info("catching up with the log: %s", exc)
            await asyncio.sleep(0.2)


# ---------------------------------------------------------------- gRPC


async def _serve_grpc(
    settings: MetadataSettings,
    service: MetadataService,
    stop: asyncio.Event,
    readiness: _Readiness,
    caught_up: Awaitable[None] | None = None,
    following: asyncio.Task[bool] | None = None,
    repair: _Repair | None = None,
) -> bool:
    """Serves until stop, or until the follower gives up; returns True in that case."""
    server = new_server(settings.cluster_secret)
    add_to_server(service, server)
    server.add_insecure_port(settings.listen)
    await server.start()
    log.info("metadata serving gRPC on %s", settings.listen)
    try:
        async with asyncio.TaskGroup() as tasks:
            refresher = tasks.create_task(_keep_liveness(service.reconcile_liveness))
            repairing = tasks.create_task(repair.run() if repair else _forever())
            stopped = tasks.create_task(stop.wait())
            waits: set[asyncio.Future[Any]] = {stopped}
            if following is not None:
                waits.add(following)
            if caught_up is not None:
                readiness.reason = "catching up with the log"
                ready: asyncio.Task[Any] = tasks.create_task(_awaited(caught_up))
                await asyncio.wait({ready, *waits}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
            if not stop.is_set() and (following is None or not following.done()):
                readiness.reason = None
                log.info("metadata ready")
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            refresher.cancel()
            repairing.cancel()
            stopped.cancel()
    finally:
        readiness.reason = "stopping"
        service.closing.set()  # the callers' streams end instead of holding the grace
        await server.stop(SHUTDOWN_GRACE_SECONDS)
    return following is not None and following.done() and following.result() is False


class _Repair:
    """Repair leadership, and what its leader runs: the repair scheduler, GC
    and the lifecycle worker."""

    def __init__(
        self,
        settings: MetadataSettings,
        state: StateMachine,
        mutation_log: MutationLog,
        consistent: Callable[[float], Awaitable[object]],
        reads: ThreadPoolExecutor,
        leadership: Leadership,
    ) -> None:
        self.leadership = leadership
        self.stubs = NodeStubs(settings.cluster_secret)
        self.scheduler = RepairScheduler(
            state=state,
            mutation_log=mutation_log,
            consistent=consistent,
            reads=reads,
            stubs=self.stubs,
            is_leader=lambda: leadership.is_leader,
            rate_bytes_per_second=settings.repair_rate_bytes_per_second,
            scan_interval_seconds=settings.repair_scan_interval_seconds,
        )
        self.gc = GarbageCollector(
            state=state,
            consistent=consistent,
            reads=reads,
            stubs=self.stubs,
            grace_seconds=settings.gc_grace_seconds,
            progress=self.scheduler.progress,
        )
        self._gc_interval = settings.gc_interval_seconds
        self.lifecycle = LifecycleWorker(
            state=state,
            mutation_log=mutation_log,
            consistent=consistent,
            reads=reads,
            is_leader=lambda: leadership.is_leader,
            day_seconds=settings.lifecycle_day_seconds,
            interval_seconds=settings.lifecycle_interval_seconds,
            actions_per_second=settings.lifecycle_actions_per_second,
        )

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.leadership.run(), name="repair-leadership")
                tasks.create_task(self.scheduler.run(), name="repair-scheduler")
                tasks.create_task(self._gc_forever(), name="gc")
                tasks.create_task(self.lifecycle.run(), name="lifecycle")
        finally:
            await self.stubs.close()

    async def _gc_forever(self) -> None:
        while True:
            await asyncio.sleep(self._gc_interval)
            if self.leadership.is_leader:
                try:
                    await self.gc.run_once()
                except (errors.TesseraError, OSError) as exc:
                    log.warning("gc pass failed: %s", exc)
                except Exception:  # a bug must not take the metadata replica down
                    log.exception("gc pass failed")


async def _no_wait(timeout: float) -> None:  # noqa: ASYNC109
    """The single-replica log applies before it answers: every read is at its head."""


async def _forever() -> None:
    await asyncio.Event().wait()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _keep_liveness(reconcile: Callable[[float], Awaitable[int]]) -> None:
    while True:
        try:
            await reconcile(LIVENESS_CALL_SECONDS)
        except errors.TesseraError as exc:
            log.warning("liveness check failed: %s", exc)
        await asyncio.sleep(LIVENESS_REFRESH_SECONDS)


def main(settings: MetadataSettings) -> None:
    setup_logging(settings.log_level, "metadata")
    run_role(lambda stop: serve(settings, stop))
