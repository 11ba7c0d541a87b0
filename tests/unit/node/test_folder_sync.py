"""FolderSyncer: concurrent syncs of one folder share fsyncs, yet every caller
returns only after an fsync that started after its rename has ended.

The fsync function is injected: it appends to one ordered event log and can
be held at a gate, so callers are lined up without any timing assumption.
The durability property is checked on the log: for each caller, some fsync
of its folder started after the caller's rename and ended before the caller
returned — exactly what a crash-consistent rename needs (POSIX makes a
directory entry durable with an fsync of the directory issued after it).
"""

from __future__ import annotations

import errno
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from node.folder_sync import FolderSyncer

WAIT_SECONDS = 30.0  # bound on waiting for threads to line up (not a timing assertion)


class Recorder:
    """An fsync that records ("start"/"end", folder, n) in one ordered log;
    fsync number n (1-based, over all folders) waits for gates[n] if set, and
    raises failures[n] if set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, object, int]] = []
        self.started = 0
        self.gates: dict[int, threading.Event] = {}
        self.failures: dict[int, OSError] = {}
        self.jitter: Callable[[], None] | None = None

    def event(self, kind: str, who: object, n: int = 0) -> None:
        with self.lock:
            self.log.append((kind, who, n))

    def __call__(self, folder: Path) -> None:
        with self.lock:
            self.started += 1
            n = self.started
            self.log.append(("start", folder, n))
        gate = self.gates.get(n)
        if gate is not None:
            assert gate.wait(WAIT_SECONDS)
        if self.jitter is not None:
            self.jitter()
        try:
            if n in self.failures:
                raise self.failures[n]
        finally:
            self.event("end", folder, n)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "threads did not line up"
        time.sleep(0.001)


def caller(syncer: FolderSyncer, rec: Recorder, folder: Path, name: object) -> None:
    rec.event("rename", (folder, name))
    try:
        syncer.sync(folder)
    except OSError:
        rec.event("failed", (folder, name))
        return
    rec.event("return", (folder, name))


def assert_each_return_covered(rec: Recorder) -> int:
    """Checks the durability property for every caller that returned; gives
    how many returned."""
    log = rec.log
    returned = 0
    for i, (kind, who, _) in enumerate(log):
        if kind != "return":
            continue
        folder, _name = who  # type: ignore[misc]
        renamed = log.index(("rename", who, 0))
        covering = [
            n
            for j, (k, f, n) in enumerate(log)
            if k == "start" and f == folder and renamed < j < i and log.index(("end", f, n)) < i
        ]
        assert covering, (
            f"{who}: no fsync of {folder} started after its rename and ended before it returned"
        )
        returned += 1
    return returned


def test_callers_arriving_during_an_fsync_share_the_next_one(tmp_path: Path) -> None:
    rec = Recorder()
    rec.gates[1] = threading.Event()
    syncer = FolderSyncer(rec)
    first = threading.Thread(target=caller, args=(syncer, rec, tmp_path, 0))
    first.start()
    wait_until(lambda: rec.started == 1)  # fsync 1 is running, held at its gate
    others = [
        threading.Thread(target=caller, args=(syncer, rec, tmp_path, i)) for i in range(1, 12)
    ]
    for t in others:
        t.start()
    wait_until(lambda: syncer.callers(tmp_path) == 12)
    assert rec.started == 1  # nobody started a second fsync while one runs
    rec.gates[1].set()
    for t in [first, *others]:
        t.join()
    assert syncer.syncs == 12
    assert rec.started == syncer.fsyncs == 2  # 12 commits, 2 fsyncs
    assert assert_each_return_covered(rec) == 12
    # The eleven who renamed while fsync 1 ran were served by fsync 2, not 1.
    returns_after_2 = [
        who for kind, who, _ in rec.log[rec.log.index(("end", tmp_path, 2)) :] if kind == "return"
    ]
    assert len(returns_after_2) == 11
    assert syncer.callers(tmp_path) == 0


def test_many_concurrent_callers_over_several_folders(tmp_path: Path) -> None:
    rec = Recorder()
    rng = random.Random(7)
    rec.jitter = lambda: time.sleep(rng.random() / 1000)  # vary interleavings only
    syncer = FolderSyncer(rec)
    folders = [tmp_path / name for name in ("aa", "bb", "cc")]

    def worker(w: int) -> None:
        for i in range(25):
            caller(syncer, rec, folders[(w + i) % 3], (w, i))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert assert_each_return_covered(rec) == 24 * 25
    assert syncer.syncs == 600
    assert rec.started == syncer.fsyncs <= 600
    # fsyncs of one folder never overlap
    running: dict[Path, int] = {}
    for kind, who, n in rec.log:
        if kind == "start":
            assert who not in running, f"two fsyncs of {who} at once"
            running[who] = n  # type: ignore[index]
        elif kind == "end":
            assert running.pop(who) == n  # type: ignore[call-overload]


def test_a_failed_fsync_fails_every_caller_it_served_and_no_later_one(tmp_path: Path) -> None:
    rec = Recorder()
    rec.gates[1] = threading.Event()
    rec.failures[2] = OSError(errno.EIO, "Input/output error")
    syncer = FolderSyncer(rec)
    first = threading.Thread(target=caller, args=(syncer, rec, tmp_path, 0))
    first.start()
    wait_until(lambda: rec.started == 1)
    others = [threading.Thread(target=caller, args=(syncer, rec, tmp_path, i)) for i in range(1, 5)]
    for t in others:
        t.start()
    wait_until(lambda: syncer.callers(tmp_path) == 5)
    rec.gates[1].set()
    for t in [first, *others]:
        t.join()
    kinds = [(kind, who) for kind, who, _ in rec.log if kind in ("return", "failed")]
    assert ("return", (tmp_path, 0)) in kinds  # served by fsync 1, which succeeded
    assert sorted(who[1] for kind, who in kinds if kind == "failed") == [1, 2, 3, 4]  # type: ignore[index]
    with pytest.raises(OSError) as raised:
        rec.failures[3] = OSError(errno.EIO, "Input/output error")
        syncer.sync(tmp_path)
    assert raised.value.errno == errno.EIO
    syncer.sync(tmp_path)  # fsync 4 succeeds: a failure is not sticky, nor cached as success
    assert rec.started == 4


def test_folders_do_not_wait_for_each_other(tmp_path: Path) -> None:
    rec = Recorder()
    rec.gates[1] = threading.Event()
    syncer = FolderSyncer(rec)
    held = threading.Thread(target=caller, args=(syncer, rec, tmp_path / "a", 0))
    held.start()
    wait_until(lambda: rec.started == 1)
    syncer.sync(tmp_path / "b")  # returns while the fsync of a is still held
    assert ("end", tmp_path / "b", 2) in rec.log
    assert ("end", tmp_path / "a", 1) not in rec.log
    rec.gates[1].set()
    held.join()
    assert assert_each_return_covered(rec) == 1


def test_without_coalescing_every_call_runs_its_own_fsync(tmp_path: Path) -> None:
    rec = Recorder()
    syncer = FolderSyncer(rec, coalesce=False)
    threads = [threading.Thread(target=caller, args=(syncer, rec, tmp_path, i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rec.started == syncer.fsyncs == syncer.syncs == 8
    assert assert_each_return_covered(rec) == 8
