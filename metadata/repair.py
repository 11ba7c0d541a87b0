"""The repair scheduler: metadata schedules, nodes execute.

It runs on every replica and works only while this replica leads repair
(metadata/election.py). A pass reads the applied state at the log's head:
the cluster map, the open problem reports (corrupt shards) and every
version's shard sets; tessera.repair_plan says what each set needs (a repair,
a drain, or a rebalance onto its ideal nodes). The queue is sorted by margin
(fewest spare shards first; drains, then rebalance moves last) and worked in
order, throttled to the repair rate (bytes/s, the runtime setting in the
state, else the configured one): RebuildShard on the chosen node, with the
surviving shards' nodes as sources, then an UpdatePlacement compare-and-set.
After REPAIR_PASS_SECONDS_MAX it rescans, so new damage is not queued
behind old work. The pause between scans is the configured interval, or
SCAN_PAUSE_FACTOR times the last scan's duration when that is longer: a scan
walks every version, so in a large store scanning keeps to a bounded share of
the leader's CPU (at most 1 / (1 + SCAN_PAUSE_FACTOR) of it).

Invariants:
- a placement changes only through UpdatePlacement, which applies only if the
  version is still current and the slot still names the node the plan saw:
  a concurrent overwrite or delete wins and nothing is resurrected;
- a shard rebuilt for a stale plan is deleted at once unless the current
  placement references it (GC would collect it anyway);
- the queue lives in memory only: every pass recomputes it from the state,
  so repair resumes after any crash or leadership change, and rebuilding a
  shard twice is harmless (the node replaces the file atomically);
- a node is down (its shards queued) only after the liveness grace period,
  so a restart within it causes no repair;
- moves (drain, rebalance) copy the shard from its holder, commit the new
  placement by the same compare-and-set, and only then delete the old copy;
  a rebalance only ever changes a placement, never a version record;
- a node with a store id not audited yet is listed against its placements
  during the scan (metadata/audit.py); what it lacks is reported "missing"
  and rebuilt in place; the audited store id is state (NoteStoreAudited), so
  a new leader does not audit again;
- the parts of uploads in progress are shard sets like a version's: their
  UpdatePlacement is a compare-and-set on the part record.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc.aio

from metadata import metrics, mutations
from metadata.audit import PROBLEM_MISSING, StoreAudit
from metadata.commit import MutationLog
from metadata.node_stubs import NodeStubs
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from tessera import errors, limits
from tessera.ids import new_request_id
from tessera.model import NODE_DOWN, NodeInfo, ObjectVersion
from tessera.recovery import BucketHints, encode_trailer
from tessera.repair_plan import (
    KIND_DRAIN,
    KIND_REBALANCE,
    KINDS,
    MARGIN_LABELS,
    Rebuild,
    RepairTask,
    ShardSet,
    margin_label,
    margin_of,
    plan,
    plan_rebalance,
    shard_sets_of,
    shard_sets_of_upload,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SCAN_PAGE_VERSIONS = 1000
THROUGHPUT_WINDOW_SECONDS = 60.0
SCAN_PAUSE_FACTOR = 4.0
CONSISTENT_READ_SECONDS = 10.0
DELETE_TIMEOUT_SECONDS = 10.0
THROTTLE_RECHECK_SECONDS = 1.0

Consistent = Callable[[float], Awaitable[object]]


def scan_pause_seconds(interval_seconds: float, last_scan_seconds: float) -> float:
    """The pause before the next scan: the configured interval, stretched to
    SCAN_PAUSE_FACTOR times the last scan when that took longer."""
    return max(interval_seconds, SCAN_PAUSE_FACTOR * last_scan_seconds)


class Throttle:
    """Paces work to a byte rate: the next piece goes once the last one's
    bytes have had their time at the *current* rate, so a rate changed at
    runtime (`tessera admin repair rate`) applies to a wait under way too."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_at = 0.0
        self._last_bytes = 0

    def delay_for(self, nbytes: int, rate_bytes_per_second: float) -> float:
        """Seconds still to wait before nbytes may go; 0 means go (and books them)."""
        assert rate_bytes_per_second > 0
        now = self._clock()
        due = self._last_at + self._last_bytes / rate_bytes_per_second
        if due > now:
            return due - now
        self._last_at, self._last_bytes = now, nbytes
        return 0.0

    async def take(self, nbytes: int, rate: Callable[[], Awaitable[float]]) -> None:
        """Returns when nbytes may go, re-reading the rate at least every
        THROTTLE_RECHECK_SECONDS while it waits."""
        while True:
            wait = self.delay_for(nbytes, await rate())
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, THROTTLE_RECHECK_SECONDS))


@dataclass
class Progress:
    """What `tessera admin repair status` and the metrics show."""

    margins: dict[str, int] = field(default_factory=dict)
    queue_shards: int = 0
    queue_bytes: int = 0
    blocked_shards: int = 0
    repaired_shards: int = 0
    repaired_bytes: int = 0
    read_bytes: int = 0
    cross_zone_bytes: int = 0
    stale: int = 0
    failed: int = 0
    gc_deleted: int = 0
    rebalance_queue_shards: int = 0
    rebalance_queue_bytes: int = 0
    rebalanced_shards: int = 0
    rebalanced_bytes: int = 0
    last_scan_at: float = 0.0
    rate_bytes_per_second: float = 0.0
    window: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)

    def note_moved(self, now: float, nbytes: int) -> None:
        """A rebalance move: counted apart, it is not missing redundancy."""
        self.rebalanced_shards += 1
        self.rebalanced_bytes += nbytes
        self.rebalance_queue_bytes = max(0, self.rebalance_queue_bytes - nbytes)
        self.rebalance_queue_shards = max(0, self.rebalance_queue_shards - 1)
        self.window.append((now, nbytes))

    def note_repaired(self, now: float, nbytes: int) -> None:
        self.repaired_shards += 1
        self.repaired_bytes += nbytes
        self.queue_bytes = max(0, self.queue_bytes - nbytes)
        self.queue_shards = max(0, self.queue_shards - 1)
        self.window.append((now, nbytes))

    def throughput(self, now: float) -> float:
        while self.window and now - self.window[0][0] > THROUGHPUT_WINDOW_SECONDS:
            self.window.popleft()
        if not self.window:
            return 0.0
        span = max(1.0, now - self.window[0][0])
        return sum(b for _, b in self.window) / span

    def eta_seconds(self, now: float) -> float:
        """Seconds to full redundancy; -1 when unknown (work is blocked or idle)."""
        if self.queue_bytes == 0 and self.blocked_shards == 0:
            return 0.0
        if self.blocked_shards:
            return -1.0
        speed = self.throughput(now) or self.rate_bytes_per_second
        return self.queue_bytes / speed if speed > 0 else -1.0


class RepairScheduler:
    def __init__(
        self,
        *,
        state: StateMachine,
        mutation_log: MutationLog,
        consistent: Consistent,
        reads: Executor,
        stubs: NodeStubs,
        is_leader: Callable[[], bool],
        rate_bytes_per_second: float,
        scan_interval_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._log = mutation_log
        self._consistent = consistent
        self._reads = reads
        self._stubs = stubs
        self._is_leader = is_leader
        self._default_rate = rate_bytes_per_second
        self._interval = scan_interval_seconds
        self._clock = clock
        self._throttle = Throttle()
        self._audit = StoreAudit(stubs)
        self._last_scan_seconds = 0.0
        self.progress = Progress(rate_bytes_per_second=rate_bytes_per_second)

    @property
    def is_leader(self) -> bool:
        return self._is_leader()

    async def run(self) -> None:
        while True:
            leading = self._is_leader()
            metrics.REPAIR_LEADER.set(1 if leading else 0)
            if leading:
                try:
                    await self.run_once()
                except (errors.TesseraError, grpc.aio.AioRpcError, OSError) as exc:
                    log.warning("repair pass failed: %s", exc)
                except Exception:  # a bug must not take the metadata replica down
                    log.exception("repair pass failed")
            await asyncio.sleep(scan_pause_seconds(self._interval, self._last_scan_seconds))

    async def run_once(self) -> int:
        """One scan and up to REPAIR_PASS_SECONDS_MAX of work; returns the
        shards rebuilt."""
        tasks, nodes = await self.scan()
        return await self.work(tasks, nodes)

    # ------------------------------------------------------------ scan

    async def scan(self) -> tuple[list[RepairTask], dict[str, NodeInfo]]:
        started = time.monotonic()
        await self._consistent(CONSISTENT_READ_SECONDS)
        view = await self._read(self._state.cluster_map)
        nodes = {n.node_id: n for n in view.nodes}
        problems = await self._read(self._state.shard_problems)
        corrupt: dict[str, set[tuple[int, str]]] = collections.defaultdict(set)
        for set_id, index, node_id in problems:
            corrupt[set_id].add((index, node_id))
        unmatched = set(problems)
        margins = dict.fromkeys(MARGIN_LABELS, 0)
        tasks: dict[str, RepairTask] = {}
        audited = await self._read(self._state.audited_stores)
        auditing = self._audit.due(nodes, audited)
        expected: dict[str, set[tuple[str, int]]] = {n: set() for n in auditing}
        audited_sets: dict[str, ShardSet] = {}

        def visit(shard_set: ShardSet) -> None:
            set_id = shard_set.shard_set_id
            reported = corrupt.get(set_id, set())
            for loc in shard_set.placement:
                unmatched.discard((set_id, loc.shard_index, loc.node_id))
                if loc.node_id in expected:
                    expected[loc.node_id].add((set_id, loc.shard_index))
                    audited_sets[set_id] = shard_set
            margins[margin_label(margin_of(shard_set, nodes, reported))] += 1
            task = self._plan(shard_set, nodes, reported)
            if task is not None:
                tasks[set_id] = task

        after = b""
        while True:
            versions, after = await self._read(self._state.versions_page, after, SCAN_PAGE_VERSIONS)
            for version in versions:
                for shard_set in shard_sets_of(version):
                    visit(shard_set)
            if not after:
                break
        # Parts of uploads still in progress: repaired, drained, rebalanced and
        # audited like a version's sets (their CAS is on the part record).
        while True:
            uploads, after = await self._read(self._state.uploads_page, after, SCAN_PAGE_VERSIONS)
            for upload, parts in uploads:
                for shard_set in shard_sets_of_upload(upload, parts):
                    visit(shard_set)
            if not after:
                break
        for set_id, index, node_id in unmatched:  # the shard set is gone or moved on
            await self._log.submit(
                mutations.ClearShardProblem(new_request_id(), set_id, index, node_id)
            )
        for node_id, slots in expected.items():
            gone = await self._audit.missing(nodes[node_id], slots)
            if gone is not None:
                await self._log.submit(
                    mutations.NoteStoreAudited(new_request_id(), node_id, nodes[node_id].store_id)
                )
            for set_id, index in sorted(gone or ()):
                await self._log.submit(
                    mutations.ReportShardProblem(
                        new_request_id(), set_id, index, node_id, PROBLEM_MISSING, self._clock()
                    )
                )
                corrupt[set_id].add((index, node_id))
                task = self._plan(audited_sets[set_id], nodes, corrupt[set_id])
                if task is not None:
                    tasks[set_id] = task
        queue = sorted(tasks.values(), key=lambda t: t.sort_key())
        self._last_scan_seconds = time.monotonic() - started
        self._publish_scan(queue, margins, self._last_scan_seconds)
        return queue, nodes

    @staticmethod
    def _plan(
        shard_set: ShardSet, nodes: dict[str, NodeInfo], reported: set[tuple[int, str]]
    ) -> RepairTask | None:
        """Repair or drain first; a set that needs neither may be rebalanced."""
        task = plan(shard_set, nodes, reported)
        if task is None and not reported:
            task = plan_rebalance(shard_set, nodes)
        return task

    def _publish_scan(self, tasks: list[RepairTask], margins: dict[str, int], took: float) -> None:
        p = self.progress
        p.margins = margins
        healing = [t for t in tasks if t.kind != KIND_REBALANCE]
        moving = [t for t in tasks if t.kind == KIND_REBALANCE]
        p.queue_shards = sum(len(t.rebuilds) for t in healing)
        p.queue_bytes = sum(len(t.rebuilds) * t.shard_bytes for t in healing)
        p.rebalance_queue_shards = sum(len(t.rebuilds) for t in moving)
        p.rebalance_queue_bytes = sum(len(t.rebuilds) * t.shard_bytes for t in moving)
        p.blocked_shards = sum(1 for t in tasks for r in t.rebuilds if not r.target_node_id) + sum(
            1 for t in tasks if t.margin < 0
        )
        p.last_scan_at = self._clock()
        for label, count in margins.items():
            metrics.REPAIR_SHARD_SETS_BY_MARGIN.labels(label).set(count)
        for kind in KINDS:
            metrics.REPAIR_QUEUE_SHARDS.labels(kind).set(
                sum(len(t.rebuilds) for t in tasks if t.kind == kind)
            )
        metrics.REPAIR_QUEUE_BYTES.set(p.queue_bytes)
        metrics.REBALANCE_QUEUE_BYTES.set(p.rebalance_queue_bytes)
        metrics.REPAIR_BLOCKED_SHARDS.set(p.blocked_shards)
        metrics.REPAIR_SCAN_SECONDS.set(took)
        self._publish_rates()

    def _publish_rates(self) -> None:
        now = time.monotonic()
        metrics.REPAIR_THROUGHPUT.set(self.progress.throughput(now))
        metrics.REPAIR_ETA.set(self.progress.eta_seconds(now))
        metrics.REPAIR_RATE_LIMIT.set(self.progress.rate_bytes_per_second)

    # ------------------------------------------------------------ work

    async def work(self, tasks: list[RepairTask], nodes: dict[str, NodeInfo]) -> int:
        deadline = time.monotonic() + limits.REPAIR_PASS_SECONDS_MAX
        done = 0
        for task in tasks:
            for rebuild in task.rebuilds:
                if not rebuild.target_node_id:
                    continue
                if time.monotonic() > deadline or not self._is_leader():
                    return done
                await self._throttle.take(task.shard_bytes, self._rate)
                if await self._rebuild(task, rebuild, nodes):
                    done += 1
                self._publish_rates()
        return done

    async def _rate(self) -> float:
        configured = await self._read(self._state.repair_rate)
        rate = configured or self._default_rate
        self.progress.rate_bytes_per_second = rate
        return rate

    async def _rebuild(
        self, task: RepairTask, rebuild: Rebuild, nodes: dict[str, NodeInfo]
    ) -> bool:
        shard_set = task.shard_set
        geometry = shard_set.geometry
        target = nodes[rebuild.target_node_id]
        sources = [
            (i, nodes[n]) for i, n in task.sources if i != rebuild.shard_index and n in nodes
        ]
        # Same-zone sources first: the node reads the first k, so fewer bytes cross zones.
        sources.sort(key=lambda s: (s[1].zone != target.zone, s[0]))
        moving = task.kind in (KIND_DRAIN, KIND_REBALANCE) and rebuild.old_node_id in nodes
        if moving:
            # A move copies the shard from its holder (the others are the fallback).
            sources.insert(0, (rebuild.shard_index, nodes[rebuild.old_node_id]))
        header = pb.ShardHeader(
            bucket=shard_set.bucket,
            key=shard_set.key,
            version_id=shard_set.shard_set_id,
            shard_index=rebuild.shard_index,
            data_shards=geometry.data_shards,
            parity_shards=geometry.parity_shards,
            chunk_size_bytes=geometry.chunk_size_bytes,
            object_size_bytes=shard_set.size_bytes,
            stripe_count=geometry.stripe_count(shard_set.size_bytes),
        )
        timeout = (
            limits.REBUILD_TIMEOUT_BASE_SECONDS
            + task.shard_bytes / limits.REBUILD_SLOWEST_BYTES_PER_SECOND
        )
        try:
            reply = await self._stubs.stub(target.address).RebuildShard(
                pb.RebuildShardRequest(
                    header=header,
                    sources=[pb.ShardSource(shard_index=i, address=n.address) for i, n in sources],
                    timeout_seconds=timeout,
                    trailer=await self._trailer_of(shard_set),
                ),
                timeout=timeout + 5.0,
                metadata=self._stubs.call_metadata,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "rebuild of %s.%d on %s failed: %s %s",
                shard_set.shard_set_id,
                rebuild.shard_index,
                target.node_id,
                exc.code().name,
                exc.details(),
            )
            self.progress.failed += 1
            metrics.REPAIR_SHARDS.labels(task.kind, "failed").inc()
            return False
        # A move read its holder's copy (at most the shard's size), else the others.
        copied = moving and reply.read_bytes <= reply.stored_bytes
        used = sources[:1] if copied else sources[1:] if moving else sources
        self._count_reads(
            reply.read_bytes, used[: geometry.data_shards], target, task.kind != KIND_REBALANCE
        )
        try:
            await self._log.submit(
                mutations.UpdatePlacement(
                    request_id=new_request_id(),
                    bucket=shard_set.bucket,
                    key=shard_set.key,
                    version_id=shard_set.version_id,
                    shard_set_id=shard_set.shard_set_id,
                    shard_index=rebuild.shard_index,
                    expected_node_id=rebuild.old_node_id,
                    new_node_id=target.node_id,
                    upload_id=shard_set.upload_id,
                )
            )
        except errors.PreconditionFailed as exc:
            log.info(
                "repair of %s.%d is stale (%s); dropping the rebuilt shard",
                shard_set.shard_set_id,
                rebuild.shard_index,
                exc.message,
            )
            self.progress.stale += 1
            metrics.REPAIR_SHARDS.labels(task.kind, "stale").inc()
            await self._drop_unless_referenced(task, rebuild, target)
            return False
        if task.kind == KIND_REBALANCE:
            self.progress.note_moved(time.monotonic(), reply.stored_bytes)
        else:
            self.progress.note_repaired(time.monotonic(), reply.stored_bytes)
        metrics.REPAIR_SHARDS.labels(task.kind, "ok").inc()
        metrics.REPAIR_WRITTEN_BYTES.inc(reply.stored_bytes)
        if moving:
            old = nodes[rebuild.old_node_id]
            if old.state != NODE_DOWN and old.node_id != target.node_id:
                await self._delete(old, shard_set.shard_set_id, rebuild.shard_index)
        return True

    def _count_reads(
        self,
        read_bytes: int,
        used: list[tuple[int, NodeInfo]],
        target: NodeInfo,
        healing: bool,
    ) -> None:
        """Source bytes read; a rebalance move stays out of the status's "read
        per repaired" (its shards are not counted as repaired either)."""
        if healing:
            self.progress.read_bytes += read_bytes
        metrics.REPAIR_READ_BYTES.inc(read_bytes)
        if used:
            crossing = sum(1 for _, n in used if n.zone != target.zone)
            cross = read_bytes * crossing // len(used)
            if healing:
                self.progress.cross_zone_bytes += cross
            metrics.REPAIR_CROSS_ZONE_BYTES.inc(cross)

    async def _drop_unless_referenced(
        self, task: RepairTask, rebuild: Rebuild, target: NodeInfo
    ) -> None:
        shard_set = task.shard_set
        await self._consistent(CONSISTENT_READ_SECONDS)
        versions: list[ObjectVersion] = await self._read(
            self._state.versions_of, shard_set.bucket, shard_set.key
        )
        parts = await self._read(self._state.pending_parts, shard_set.bucket, shard_set.key)
        now_sets = [(s.shard_set_id, s.placement) for v in versions for s in shard_sets_of(v)]
        now_sets += [(p.shard_set_id, p.placement) for p in parts]
        for set_id, placement in now_sets:
            if set_id == shard_set.shard_set_id and any(
                loc.shard_index == rebuild.shard_index and loc.node_id == target.node_id
                for loc in placement
            ):
                return
        await self._delete(target, shard_set.shard_set_id, rebuild.shard_index)

    async def _delete(self, node: NodeInfo, shard_set_id: str, shard_index: int) -> None:
        try:
            await self._stubs.stub(node.address).DeleteShard(
                pb.DeleteShardRequest(version_id=shard_set_id, shard_index=shard_index),
                timeout=DELETE_TIMEOUT_SECONDS,
                metadata=self._stubs.call_metadata,
            )
        except grpc.aio.AioRpcError as exc:
            log.info(
                "shard %s.%d on %s left to GC: %s",
                shard_set_id,
                shard_index,
                node.node_id,
                exc.code().name,
            )

    async def _trailer_of(self, shard_set: ShardSet) -> bytes:
        """The trailer a rebuilt shard of a single-part version carries, made
        from its record (docs/metadata-recovery.md); b"" for a multipart
        segment or a version gone meanwhile (its rebuild then loses its
        compare-and-set anyway)."""
        if shard_set.shard_set_id != shard_set.version_id:
            return b""
        try:
            version = await self._read(
                self._state.get_object_version,
                shard_set.bucket,
                shard_set.key,
                shard_set.version_id,
            )
            bucket = await self._read(self._state.get_bucket, shard_set.bucket)
        except errors.TesseraError:
            return b""
        hints = BucketHints(bucket.owner, bucket.versioning, bucket.object_lock_enabled)
        return encode_trailer(version, hints)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    # ------------------------------------------------------------ status

    def status(self, replica_id: str) -> pb.RepairStatusResponse:
        p = self.progress
        now = time.monotonic()
        return pb.RepairStatusResponse(
            is_leader=self._is_leader(),
            replica_id=replica_id,
            margins=[
                pb.MarginCount(margin=label, shard_sets=p.margins.get(label, 0))
                for label in MARGIN_LABELS
            ],
            queue_shards=p.queue_shards,
            queue_bytes=p.queue_bytes,
            blocked_shards=p.blocked_shards,
            repaired_shards_total=p.repaired_shards,
            repaired_bytes_total=p.repaired_bytes,
            read_bytes_total=p.read_bytes,
            cross_zone_bytes_total=p.cross_zone_bytes,
            throughput_bytes_per_second=p.throughput(now),
            eta_seconds=p.eta_seconds(now),
            rate_limit_bytes_per_second=p.rate_bytes_per_second,
            last_scan_at=p.last_scan_at,
            gc_deleted_shards_total=p.gc_deleted,
            stale_repairs_total=p.stale,
            failed_repairs_total=p.failed,
            rebalance_queue_shards=p.rebalance_queue_shards,
            rebalance_queue_bytes=p.rebalance_queue_bytes,
            rebalanced_shards_total=p.rebalanced_shards,
            rebalanced_bytes_total=p.rebalanced_bytes,
        )
