"""The single-replica metadata log: group commit straight into the state machine.

submit(mutation) queues a mutation; one writer task takes every mutation that
arrived within group_commit_window_seconds of the oldest one (or while the
previous write ran), applies them in arrival order into one WriteBatch and
writes it durably on the log's own thread, then answers each caller.

The replicated metadata service replaces this class (same submit()) with one
that appends batches to etcd and applies the log as every replica does.

Invariants:
- mutations are applied in the order submit() was called, one batch at a
  time, all from one thread;
- no caller gets a result before its batch is durable (WAL fsynced);
- a failed batch changes nothing it was not already recorded for: a caller
  that got an error (or gave up) may retry with the same request id and
  gets the recorded outcome if the batch did land;
- a mutation whose caller was cancelled is still applied (its request id
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


_Waiter = tuple[Mutation, "asyncio.Future[Result]"]


class CommitLog:
    def __init__(self, state: StateMachine, window_seconds: float) -> None:
        self._state = state
        self._window_seconds = window_seconds
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metadata-commit")
        self._queue: list[_Waiter] = []
        self._oldest_at = 0.0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CommitLog:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        assert self._writer is None, "already started"
        self._writer = asyncio.create_task(self._run(), name="metadata-commit-writer")

    async def submit(self, mutation: Mutation) -> Result:
        """Applies the mutation durably; returns its result or raises its S3 error."""
        if self._closing or self._writer is None or self._writer.done():
            raise errors.ServiceUnavailable("metadata service is not accepting writes")
        if len(self._queue) >= QUEUE_MUTATIONS_MAX:
            raise errors.SlowDown()
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if not self._queue:
            self._oldest_at = time.monotonic()
        self._queue.append((mutation, future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Stops taking mutations, commits those queued, stops the writer thread."""
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            try:
                await self._writer
            finally:
                # The one worker runs jobs in order: once this no-op ran, no write is in flight.
                await asyncio.get_running_loop().run_in_executor(self._thread, _nothing)
                self._thread.shutdown(wait=False)

    async def _run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                if not self._queue:
                    self._wakeup.clear()
                    if self._closing:
                        return
                    continue
                delay = self._oldest_at + self._window_seconds - time.monotonic()
                if delay > 0 and not self._closing:
                    await asyncio.sleep(delay)
                taken = self._queue[:BATCH_MUTATIONS_MAX]
                del self._queue[:BATCH_MUTATIONS_MAX]
                self._oldest_at = time.monotonic()
                await self._commit(taken)
        except BaseException:  # cancelled, or a bug: nobody may wait forever
            _fail(self._queue, errors.ServiceUnavailable, "metadata log stopped")
            self._queue.clear()
            raise

    async def _commit(self, taken: list[_Waiter]) -> None:
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
            _fail(taken, errors.ServiceUnavailable, "metadata log stopped")
            raise
        except Exception:
            log.exception("group commit of %d mutations failed at %s", len(taken), stage)
            metrics.COMMIT_FAILURES.labels(stage).inc()
            # A failed apply is a bug (retrying repeats it); a failed write may have landed.
            error = errors.InternalError if stage == "apply" else errors.ServiceUnavailable
            _fail(taken, error, None)
            return
        metrics.COMMIT_BATCH_MUTATIONS.observe(len(taken))
        metrics.COMMIT_DURATION.observe(time.perf_counter() - started)
        _answer(taken, applied.outcomes)


def _answer(taken: Sequence[_Waiter], outcomes: Sequence[Outcome]) -> None:
    for (mutation, future), done in zip(taken, outcomes, strict=True):
        metrics.MUTATIONS.labels(kind_of(mutation), done.error_code or "ok").inc()
        if future.done():  # the caller gave up
            continue
        if done.ok:
            future.set_result(done.result)
        else:
            future.set_exception(errors.from_code(done.error_code, done.error_message))


def _fail(taken: Sequence[_Waiter], error: type[errors.TesseraError], message: str | None) -> None:
    for _, future in taken:
        if not future.done():
            future.set_exception(error(message))


def _nothing() -> None:
    return None
