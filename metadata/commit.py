"""Group commit, and the single-replica metadata log built on it.

GroupCommit queues submitted mutations; one writer task takes every mutation
that arrived within window_seconds of the oldest one (or while the previous
commit ran), up to BATCH_MUTATIONS_MAX of them and batch_bytes_max of their
log form, and hands the batch to _commit(). Subclasses decide what committing
means:

- CommitLog (here): the single-replica log, used when no etcd is configured —
  applies the batch into one WriteBatch and writes it durably on the log's own
  thread, then answers each caller;
- SharedLog (metadata/shared_log.py): appends the batch to the log in etcd;
  the callers are answered when their replica applies it.

Invariants:
- mutations are committed in the order submit() was called, one batch at a
  time from the writer task;
- no caller gets a result before its batch is durable (CommitLog: WAL
  fsynced; SharedLog: committed by etcd and applied by this replica);
- a failed batch changes nothing it was not already recorded for: a caller
  that got an error (or gave up) may retry with the same request id and
  gets the recorded outcome if the batch did land;
- a mutation whose caller was cancelled is still committed (its request id
  makes a retry safe).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from metadata import metrics
from metadata.mutations import LogEntry, Mutation, kind_of
from metadata.outcome import Outcome, Result
from metadata.state import StateMachine
from tessera import errors

log = logging.getLogger(__name__)

BATCH_MUTATIONS_MAX = 512
QUEUE_MUTATIONS_MAX = 10_000


class MutationLog(Protocol):
    async def submit(self, mutation: Mutation) -> Result: ...


Waiter = tuple[Mutation, "asyncio.Future[Result]"]


class GroupCommit:
    """The queue and the writer task; subclasses implement _commit()."""

    def __init__(self, window_seconds: float, batch_bytes_max: int = 0) -> None:
        self._window_seconds = window_seconds
        self._batch_bytes_max = batch_bytes_max
        self._queue: list[tuple[Mutation, asyncio.Future[Result], int]] = []
        self._oldest_at = 0.0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self._tasks: asyncio.TaskGroup | None = None

    async def __aenter__(self) -> GroupCommit:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        assert self._writer is None, "already started"
        self._writer = asyncio.create_task(self._run(), name="metadata-commit-writer")

    async def submit(self, mutation: Mutation) -> Result:
        """Commits the mutation durably; returns its result or raises its S3 error."""
        if self._closing or self._writer is None or self._writer.done():
            raise errors.ServiceUnavailable("metadata service is not accepting writes")
        if len(self._queue) >= QUEUE_MUTATIONS_MAX:
            raise errors.SlowDown()
        size = self._size_of(mutation)
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if not self._queue:
            self._oldest_at = time.monotonic()
        self._queue.append((mutation, future, size))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stops taking mutations, commits those queued, waits for commits in flight."""
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer

    def _worth_waiting(self) -> bool:
        """Whether to wait out the window for more mutations to join the batch."""
        return True

    def _size_of(self, mutation: Mutation) -> int:
        """The mutation's share of batch_bytes_max (0: sizes are not limited)."""
        return 0

    def _take(self) -> list[Waiter]:
        taken: list[Waiter] = []
        total = 0
        for mutation, future, size in self._queue[:BATCH_MUTATIONS_MAX]:
            if taken and self._batch_bytes_max and total + size > self._batch_bytes_max:
                break
            taken.append((mutation, future))
            total += size
        del self._queue[: len(taken)]
        return taken

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                while True:
                    await self._wakeup.wait()
                    if not self._queue:
                        self._wakeup.clear()
                        if self._closing:
                            return
                        continue
                    delay = self._oldest_at + self._window_seconds - time.monotonic()
                    if delay > 0 and not self._closing and self._worth_waiting():
                        await asyncio.sleep(delay)
                    taken = self._take()
                    self._oldest_at = time.monotonic()
                    await self._commit(taken)
        except BaseException:  # cancelled, or a bug: nobody may wait forever
            fail([(m, f) for m, f, _ in self._queue], errors.ServiceUnavailable, "log stopped")
            self._queue.clear()
            raise
        finally:
            self._tasks = None

    async def _commit(self, taken: list[Waiter]) -> None:
        raise NotImplementedError


class CommitLog(GroupCommit):
    """The single-replica log: group commit straight into the state machine."""

    def __init__(self, state: StateMachine, window_seconds: float) -> None:
        super().__init__(window_seconds)
        self._state = state
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metadata-commit")

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            # The one worker runs jobs in order: once this no-op ran, no write is in flight.
            await asyncio.get_running_loop().run_in_executor(self._thread, _nothing)
            self._thread.shutdown(wait=False)

    async def _commit(self, taken: list[Waiter]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        first = self._state.applied_position + 1
        entries = [LogEntry(first + i, mutation) for i, (mutation, _) in enumerate(taken)]
        try:
            stage = "apply"
            applied = await loop.run_in_executor(self._thread, self._state.apply_batch, entries)
            stage = "write"
            await loop.run_in_executor(self._thread, self._state.commit, applied)
        except asyncio.CancelledError:
            fail(taken, errors.ServiceUnavailable, "metadata log stopped")
            raise
        except Exception:
            log.exception("group commit of %d mutations failed at %s", len(taken), stage)
            metrics.COMMIT_FAILURES.labels(stage).inc()
            # A failed apply is a bug (retrying repeats it); a failed write may have landed.
            error = errors.InternalError if stage == "apply" else errors.ServiceUnavailable
            fail(taken, error, None)
            return
        metrics.COMMIT_BATCH_MUTATIONS.observe(len(taken))
        metrics.COMMIT_DURATION.observe(time.perf_counter() - started)
        answer(taken, applied.outcomes)


def answer(taken: Sequence[Waiter], outcomes: Sequence[Outcome]) -> None:
    """Gives each caller its mutation's outcome (callers that gave up are skipped)."""
    for (mutation, future), done in zip(taken, outcomes, strict=True):
        metrics.MUTATIONS.labels(kind_of(mutation), done.error_code or "ok").inc()
        if future.done():
            continue
        if done.ok:
            future.set_result(done.result)
        else:
            future.set_exception(errors.from_code(done.error_code, done.error_message))


def fail(taken: Sequence[Waiter], error: type[errors.TesseraError], message: str | None) -> None:
    for _, future in taken:
        if not future.done():
            future.set_exception(error(message))


def _nothing() -> None:
    return None
