"""The replicated metadata log: group commit into etcd, outcomes from the follower.

SharedLog.submit(mutation) queues a mutation; GroupCommit's writer task cuts
batches (window, count and byte limits) and each batch becomes one log entry
appended with a single etcd put of the log key. Up to APPENDS_IN_FLIGHT_MAX
appends run at once, so etcd batches their fsyncs too. The caller is answered
when this replica's Follower applies the entry (on_applied with the batch
id), with the outcome every replica computed identically — once every peer
replica that may hold a read lease has applied it too (metadata/read_lease.py).

An append that fails or times out may still have landed. Its callers get
ServiceUnavailable and retry (here or on another replica) with the same
request ids; if both copies land, the second is answered from the idempotency
records, so nothing is applied twice.

Invariants:
- an entry never exceeds ENTRY_BYTES_MAX (etcd refuses requests over its
  --max-request-bytes, 1.5 MiB by default) nor ENTRY_MUTATIONS_MAX mutations;
- every caller is answered exactly once: by its entry's outcome, by an
  error when the append failed, or by cancellation when the log stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence

from metadata import logformat, metrics
from metadata.commit import BATCH_MUTATIONS_MAX, GroupCommit, Waiter, answer, fail
from metadata.etcd import EtcdClient, EtcdError
from metadata.follower import Follower
from metadata.mutations import Mutation
from metadata.outcome import Outcome
from metadata.read_lease import ReadLeases
from metadata.record_leases import RecordLeases
from tessera import errors

log = logging.getLogger(__name__)

ENTRY_BYTES_MAX = 1024 * 1024
APPENDS_IN_FLIGHT_MAX = 8
APPEND_TIMEOUT_SECONDS = 5.0

assert BATCH_MUTATIONS_MAX <= logformat.ENTRY_MUTATIONS_MAX


class SharedLog(GroupCommit):
    def __init__(
        self,
        etcd: EtcdClient,
        log_key: bytes,
        replica_id: str,
        window_seconds: float,
    ) -> None:
        super().__init__(window_seconds, batch_bytes_max=ENTRY_BYTES_MAX)
        self._etcd = etcd
        self._log_key = log_key
        self._batch_prefix = f"{replica_id}.{os.urandom(4).hex()}."
        self._sequence = 0
        self._slots = asyncio.Semaphore(APPENDS_IN_FLIGHT_MAX)
        self._in_flight = 0
        self._pending: dict[str, list[Waiter]] = {}
        self.follower: Follower | None = None  # set before start(); it reports applied entries
        self.leases: ReadLeases | None = None  # set before start() when reads may hold leases
        # set before start() when gateways may hold record leases: told of each
        # batch before its append (metadata/record_leases.py)
        self.record_leases: RecordLeases | None = None

    def _worth_waiting(self) -> bool:
        # Nothing in flight: an append now costs no one anything (low load gets
        # no added latency); otherwise batch for the window, sharing etcd's fsync.
        return self._in_flight > 0

    def _size_of(self, mutation: Mutation) -> int:
        size = logformat.mutation_bytes(mutation)
        if size > ENTRY_BYTES_MAX:
            raise errors.InvalidArgument("the record is too large for the metadata log")
        return size

    def on_applied(self, batch_id: str, outcomes: Sequence[Outcome]) -> None:
        """Called by the follower for every entry it applied, in log order."""
        taken = self._pending.pop(batch_id, None)
        if taken is None:
            return
        if self.leases is None or self.leases.settled_now():
            answer(taken, outcomes)
        elif self._tasks is None:  # stopping: the callers retry with the same request ids
            fail(taken, errors.ServiceUnavailable, "metadata log stopped")
        else:
            assert self.follower is not None
            revision = self.follower.applied_revision  # this entry's, or a later one
            self._tasks.create_task(self._answer_settled(taken, outcomes, revision))

    async def _answer_settled(
        self, taken: list[Waiter], outcomes: Sequence[Outcome], revision: int
    ) -> None:
        """Answers once every peer that may hold a read lease applied revision."""
        assert self.leases is not None
        try:
            await self.leases.settle(revision)
        except asyncio.CancelledError:
            fail(taken, errors.ServiceUnavailable, "metadata log stopped")
            raise
        except Exception:  # a bug: answer the callers, keep the log running
            log.exception("waiting for the read-lease holders failed")
            fail(taken, errors.InternalError, None)
            return
        answer(taken, outcomes)

    def abandon_pending(self) -> None:
        """Fails every caller still waiting (the follower stopped for good)."""
        for taken in self._pending.values():
            fail(taken, errors.ServiceUnavailable, "replica lost its place in the log")
        self._pending.clear()

    async def _commit(self, taken: list[Waiter]) -> None:
        await self._slots.acquire()
        assert self._tasks is not None
        self._in_flight += 1
        self._tasks.create_task(self._append(taken))

    async def _append(self, taken: list[Waiter]) -> None:
        self._sequence += 1
        batch_id = self._batch_prefix + str(self._sequence)
        try:
            raw = logformat.encode(batch_id, [mutation for mutation, _ in taken])
            self._pending[batch_id] = taken
            if self.record_leases is not None:
                self.record_leases.announce_early(batch_id, [mutation for mutation, _ in taken])
            started = time.perf_counter()
            try:
                revision = await self._etcd.put(self._log_key, raw, timeout=APPEND_TIMEOUT_SECONDS)
            except (EtcdError, OSError) as exc:
                log.warning("log append of %d mutations failed: %s", len(taken), exc)
                metrics.COMMIT_FAILURES.labels("append").inc()
                self._pending.pop(batch_id, None)
                if self.record_leases is not None:
                    self.record_leases.not_appended(batch_id)
                fail(taken, errors.ServiceUnavailable, "the metadata log is unavailable")
                return
            metrics.COMMIT_BATCH_MUTATIONS.observe(len(taken))
            metrics.COMMIT_DURATION.observe(time.perf_counter() - started)
            metrics.ENTRY_BYTES.observe(len(raw))
            if self.follower is not None:
                self.follower.expect(revision)
        except asyncio.CancelledError:
            fail(taken, errors.ServiceUnavailable, "metadata log stopped")
            raise
        except Exception:  # a bug: answer the callers, keep the log running
            log.exception("log append failed")
            fail(taken, errors.InternalError, None)
            if self.record_leases is not None:
                self.record_leases.not_appended(batch_id)
        finally:
            self._in_flight -= 1
            self._slots.release()
