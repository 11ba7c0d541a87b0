"""A replica following the shared log: watch etcd, apply every entry, in order.

Follower.run() watches the log key from the revision after the last one
applied and applies each entry (a batch of mutations) into the state machine
as one WriteBatch together with its position (a few mutations on the event
loop, a longer run, as when catching up, on the replica's one writer
thread) — between computing the batch and writing it, gateways holding
record leases are told which records it changes (before_commit); then it
tells the read leases (on_lease) of every ReadLease in it, and the log
(on_applied) so the callers waiting on that batch get their outcomes, and
wakes readers waiting for that revision.

A watch can break (member died) or go quiet (member hung or cut off from its
peers, so it learns of no new entries). Anyone who knows the log has reached
revision r calls expect(r); if the follower is behind a revision it expects
and the watch brings nothing for STALL_SECONDS, it gives up on that etcd
member and watches through the next one.

read_index() is what makes a read linearizable: it learns the log's last
revision from etcd with a linearizable range (one per round, shared by every
read that arrived before the round started) and waits until that revision is
applied. See docs/metadata.md for the argument.

Invariants:
- entries are applied in revision order, each exactly once, each whole: the
  applied position is written in the same WriteBatch as the entry's effects;
- the applied revision is read from the state, never kept on the side, so a
  cancelled apply that still completed on the thread is not applied again;
- if etcd has compacted the log past what this replica applied, run()
  returns False and applies nothing more (the replica needs a checkpoint).
"""

# ruff: noqa: ASYNC109  (timeout is the caller's deadline)

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor

from metadata import logformat, metrics
from metadata.etcd import EtcdClient, EtcdCompacted, EtcdError, WatchEvent
from metadata.mutations import ReadLease
from metadata.outcome import Outcome
from metadata.state import AppliedBatch, StateMachine
from tessera import errors

log = logging.getLogger(__name__)

STALL_SECONDS = 1.5
WATCH_CONNECT_SECONDS = 2.0
HEAD_FETCH_SECONDS = 3.0
RETRY_BACKOFF_MAX_SECONDS = 1.0
# Up to this many mutations are applied on the loop itself; a longer run
# (catching up) on the writer thread (docs/metadata.md, "Small applies on
# the loop").
APPLY_ON_LOOP_MUTATIONS_MAX = 32

OnApplied = Callable[[str, Sequence[Outcome]], None]
# (revision, object records written, the batch ids of the entries)
BeforeCommit = Callable[[int, Sequence[bytes], Sequence[str]], Awaitable[None]]


class Follower:
    def __init__(
        self,
        etcd: EtcdClient,
        state: StateMachine,
        writer: Executor,
        log_key: bytes,
        on_applied: OnApplied,
    ) -> None:
        self._etcd = etcd
        self._state = state
        self._writer = writer
        self._log_key = log_key
        self._on_applied = on_applied
        self._target = self.applied_revision
        self._progress = asyncio.Condition()
        self._stall: asyncio.Timeout | None = None
        self._applying = False  # the stall timer stays off while an apply runs
        self.lost_log = False  # compacted past us: a checkpoint is needed
        self._head_waiters: list[asyncio.Future[int]] = []
        self._head_wakeup = asyncio.Event()
        # told of every ReadLease applied, before any caller is answered
        self.on_lease: Callable[[ReadLease], None] | None = None
        # awaited with a batch's revision, the object records it writes and
        # its entries' batch ids, after it is computed and before it is
        # written (record leases: metadata/record_leases.py)
        self.before_commit: BeforeCommit | None = None

    @property
    def applied_revision(self) -> int:
        return logformat.revision_of(self._state.applied_position)

    def expect(self, revision: int) -> None:
        """Someone knows the log reached revision: from now on, silence is a stall."""
        if revision > self._target:
            self._target = revision
            self._arm()

    # ------------------------------------------------------------ following

    async def run(self) -> bool:
        """Follows the log until cancelled; returns False if the log was
        compacted past this replica (it can no longer catch up from the log)."""
        backoff = 0.05
        async with asyncio.TaskGroup() as tasks:
            heads = tasks.create_task(self._fetch_heads(), name="metadata-read-index")
            try:
                while True:
                    before = self.applied_revision
                    try:
                        await self._follow()
                    except EtcdCompacted as exc:
                        log.error(
                            "the log was compacted past this replica (applied %d, %s)",
                            self.applied_revision,
                            exc,
                        )
                        self.lost_log = True
                        return False
                    except (EtcdError, TimeoutError) as exc:
                        log.warning("log watch interrupted: %s", exc)
                    if self.applied_revision > before:
                        backoff = 0.05
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_BACKOFF_MAX_SECONDS)
            finally:
                heads.cancel()
                for waiter in self._head_waiters:
                    waiter.cancel()
                async with self._progress:
                    self._progress.notify_all()

    async def _follow(self) -> None:
        endpoint = self._etcd.preferred_endpoint
        start = self.applied_revision + 1
        try:
            async with asyncio.timeout(None) as stall:
                self._stall = stall
                self._arm()
                async for _, events in self._etcd.watch(
                    self._log_key, start, connect_timeout=WATCH_CONNECT_SECONDS
                ):
                    stall.reschedule(None)  # an apply is never cut short by the stall timer
                    self._applying = True
                    try:
                        await self._apply(events)
                    finally:
                        self._applying = False
                    self._arm()
        except TimeoutError:
            self._etcd.demote(endpoint)
            raise TimeoutError(
                f"watch on {endpoint} stalled at revision {self.applied_revision}, "
                f"log is at {self._target} or later"
            ) from None
        finally:
            self._stall = None

    def _arm(self) -> None:
        if self._stall is None or self._applying:
            return
        if self._target > self.applied_revision:
            if self._stall.when() is None:
                self._stall.reschedule(asyncio.get_running_loop().time() + STALL_SECONDS)
        else:
            self._stall.reschedule(None)

    async def _apply(self, events: list[WatchEvent]) -> None:
        applied = self.applied_revision
        batches: list[tuple[str, int]] = []  # (batch id, mutation count)
        entries = []
        for event in events:
            revision = event.kv.mod_revision
            if event.kind != "PUT" or revision <= applied:
                continue
            entry = logformat.decode(event.kv.value)
            batches.append((entry.batch_id, len(entry.mutations)))
            entries.extend(logformat.log_entries(revision, entry))
        if not entries:
            return
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        # No fsync: etcd holds every entry durably; after a machine crash this
        # replica applies again whatever its disk lost (see state.commit).
        if len(entries) <= APPLY_ON_LOOP_MUTATIONS_MAX:
            # Applying holds the GIL on the thread too: the two hops to it
            # and back would only add their cost (metadata.md).
            done = self._state.apply_batch(entries)
            await self._announce(done, batches)
            self._state.commit(done, False)
        else:
            done = await loop.run_in_executor(self._writer, self._state.apply_batch, entries)
            await self._announce(done, batches)
            await loop.run_in_executor(self._writer, self._state.commit, done, False)
        metrics.APPLY_DURATION.observe(time.perf_counter() - started)
        metrics.APPLIED_REVISION.set(self.applied_revision)
        if self.on_lease is not None:
            for applied_entry in entries:
                if isinstance(applied_entry.mutation, ReadLease):
                    self.on_lease(applied_entry.mutation)
        first = 0
        for batch_id, count in batches:
            self._on_applied(batch_id, done.outcomes[first : first + count])
            first += count
        async with self._progress:
            self._progress.notify_all()

    async def _announce(self, done: AppliedBatch, batches: list[tuple[str, int]]) -> None:
        if self.before_commit is not None:
            await self.before_commit(
                logformat.revision_of(done.position),
                done.objects_written,
                [batch_id for batch_id, _ in batches],
            )

    # ------------------------------------------------------------ reads

    async def wait_applied(self, revision: int, timeout: float) -> None:
        """Returns once the log is applied up to revision; ServiceUnavailable on timeout."""
        if self.applied_revision >= revision:
            return
        self.expect(revision)
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(
                    lambda: self.applied_revision >= revision or self.lost_log
                )
        except TimeoutError:
            raise errors.ServiceUnavailable(
                f"replica is behind the log (applied {self.applied_revision}, need {revision})"
            ) from None
        if self.applied_revision < revision:
            raise errors.ServiceUnavailable("replica lost its place in the log")

    async def read_index(self, timeout: float) -> int:
        """Waits until everything committed before this call is applied; returns
        that revision. Raises ServiceUnavailable if etcd or the log is out of reach."""
        deadline = time.monotonic() + timeout
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._head_waiters.append(waiter)
        self._head_wakeup.set()
        try:
            async with asyncio.timeout(timeout):
                head = await waiter
        except TimeoutError:
            raise errors.ServiceUnavailable("could not read the log's head from etcd") from None
        await self.wait_applied(head, max(0.0, deadline - time.monotonic()))
        return head

    async def _fetch_heads(self) -> None:
        """One linearizable range per round, for every read waiting when it starts."""
        while True:
            await self._head_wakeup.wait()
            self._head_wakeup.clear()
            waiters, self._head_waiters = self._head_waiters, []
            waiters = [w for w in waiters if not w.done()]
            if not waiters:
                continue
            try:
                # keys_only: the head's revision is all a read needs, not the
                # last entry's value (a whole batch, inline object bytes included)
                got = await self._etcd.range(
                    self._log_key, timeout=HEAD_FETCH_SECONDS, keys_only=True
                )
            except EtcdError as exc:
                for w in waiters:
                    if not w.done():
                        w.set_exception(errors.ServiceUnavailable(f"etcd: {exc}"))
                continue
            head = got.kvs[0].mod_revision if got.kvs else 0
            self.expect(head)
            for w in waiters:
                if not w.done():
                    w.set_result(head)
