"""FolderSyncer: group commit of folder fsyncs.

A rename or unlink in a folder is durable once an fsync of that folder that
*started after it* has returned successfully. ``sync(folder)`` waits for
exactly that, and lets every caller that arrives while an fsync of the folder
is running share the next one instead of queueing an fsync each.

Per folder there is at most one fsync running and at most one round pending
(not yet started). A caller joins the pending round (creating it if there is
none); when no fsync of the folder is running, one of the pending round's
callers starts it on its own thread (the executor thread it already runs on)
and every caller of the round returns, or raises its error, once it ends.

Invariants (the crash-consistency argument: docs/erasure-coding.md, "Node
write durability and group commit of folder fsyncs"):
- a caller's round has not started when the caller joins it: a round leaves
  "pending" and its fsync starts only under the lock, after which nobody
  joins it. A caller calls sync() after its rename returned, so its rename
  precedes the start of its round's fsync, and that fsync makes it durable
  (POSIX: fsync of a directory flushes the entries changed before the call);
- sync() returns only after its own round's fsync returned without error: an
  earlier or later round never stands in for it, and a failed fsync fails
  every caller of that round (their writes are then not acknowledged);
- the fsyncs of one folder never overlap, so at most two fsyncs per folder
  serve any number of concurrent callers while one is in flight;
- nothing is cached across calls: a folder's state exists only while a caller
  is inside sync() for it.

With coalesce=False every call runs its own fsync (the behaviour before group
commit; kept for A/B benchmarks, the ``group_fsync`` node setting).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node import metrics


def fsync_folder(path: Path) -> None:
    """fsyncs one folder (its entries: renames, creations and unlinks in it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        started = time.perf_counter()
        os.fsync(fd)
        metrics.FSYNC_SECONDS.labels(target="folder").observe(time.perf_counter() - started)
    finally:
        os.close(fd)


@dataclass(slots=True)
class _Round:
    """One fsync of a folder and the callers it serves."""

    callers: int = 0
    done: bool = False
    error: BaseException | None = None


@dataclass(slots=True)
class _Folder:
    running: _Round | None = None  # the fsync in flight
    pending: _Round | None = None  # the next one; callers arriving now join it
    callers: int = 0  # callers inside sync() for this folder


class FolderSyncer:
    """Coalesces concurrent fsyncs of the same folder (thread-safe, blocking)."""

    def __init__(
        self, fsync: Callable[[Path], None] = fsync_folder, *, coalesce: bool = True
    ) -> None:
        self._fsync = fsync
        self._coalesce = coalesce
        self._cond = threading.Condition()
        self._folders: dict[Path, _Folder] = {}
        self.fsyncs = 0  # fsyncs started (for tests and the metrics below)
        self.syncs = 0  # sync() calls

    def callers(self, folder: Path) -> int:
        """Callers currently inside sync(folder) (tests use it to line callers up)."""
        with self._cond:
            state = self._folders.get(folder)
            return 0 if state is None else state.callers

    def sync(self, folder: Path) -> None:
        """Returns once an fsync of folder that started after this call began
        has returned; raises that fsync's error if it failed."""
        if not self._coalesce:
            with self._cond:
                self.syncs += 1
                self.fsyncs += 1
            metrics.FOLDER_SYNC_CALLERS.observe(1)
            self._fsync(folder)
            return
        with self._cond:
            self.syncs += 1
            state = self._folders.get(folder)
            if state is None:
                state = self._folders[folder] = _Folder()
            state.callers += 1
            try:
                round_ = state.pending
                if round_ is None:
                    round_ = state.pending = _Round()
                round_.callers += 1
                while not round_.done:
                    if state.running is None:
                        # Nobody is syncing this folder: start the pending round
                        # (ours; it has not started, so our rename precedes it).
                        self._run(folder, state, round_)
                    else:
                        self._cond.wait()
            finally:
                state.callers -= 1
                if state.callers == 0:
                    del self._folders[folder]
        if round_.error is not None:
            error = round_.error
            if isinstance(error, OSError):
                raise OSError(error.errno, f"fsync of {folder} failed: {error.strerror}") from error
            raise RuntimeError(f"fsync of {folder} failed") from error

    def _run(self, folder: Path, state: _Folder, round_: _Round) -> None:
        """Runs round_'s fsync with the lock released; called and returns with
        the lock held."""
        assert state.pending is round_ and state.running is None
        state.pending = None
        state.running = round_
        self.fsyncs += 1
        metrics.FOLDER_SYNC_CALLERS.observe(round_.callers)
        error: BaseException | None = None
        self._cond.release()
        try:
            self._fsync(folder)
        except BaseException as exc:  # every caller of the round hears it
            error = exc
        finally:
            self._cond.acquire()
        round_.error = error
        round_.done = True
        state.running = None
        self._cond.notify_all()
