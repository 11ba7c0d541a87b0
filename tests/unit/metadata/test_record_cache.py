"""metadata/record_cache.py and StateMachine.cached_object: a kept record
is the database's, whatever mutation changed it; no fill is kept while a
write runs, nor one that raced a write (readers on other threads included);
the cache stays within its bytes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from rocksdict import Rdict

from metadata import keys
from metadata.mutations import (
    DeleteObject,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
    SetObjectAcl,
)
from metadata.record_cache import RECORD_SHARE_MAX, RecordCache
from metadata.state import StateMachine
from tessera import errors
from tessera.model import ObjectVersion, version_from_json
from tests.unit.metadata.test_state import create, one, run

VersionFactory = Callable[..., ObjectVersion]


def test_fill_get_and_least_recently_used_out_by_bytes() -> None:
    cache: RecordCache[str] = RecordCache(100 * RECORD_SHARE_MAX)
    names = [f"r{i:02d}" for i in range(RECORD_SHARE_MAX)]
    for name in names:
        cache.fill(name.encode(), name, 100, cache.ticket())
    assert [cache.get(name.encode()) for name in names] == names  # full: 16 x 100 bytes
    assert cache.get(b"r00") == "r00"  # r00 is now the most recent, r01 the least
    cache.fill(b"new", "new", 100, cache.ticket())
    assert cache.get(b"r01") is None  # the least recently used went
    assert cache.get(b"r00") == "r00" and cache.get(b"new") == "new"
    cache.fill(b"big", "big", 101, cache.ticket())  # over a 1/RECORD_SHARE_MAX share
    assert cache.get(b"big") is None and len(cache) == RECORD_SHARE_MAX


def test_no_fill_is_kept_during_a_write_nor_after_one_that_raced_it() -> None:
    cache: RecordCache[str] = RecordCache(1 << 20)
    cache.fill(b"k", "v1", 10, cache.ticket())
    ticket = cache.ticket()  # a read starts...
    with cache.writing([b"k"]):  # ...a write comes in between...
        assert cache.get(b"k") is None  # (its keys are forgotten as it starts)
        during = cache.ticket()
        cache.fill(b"k", "v1", 10, during)  # a read made during the write: not kept
        assert cache.get(b"k") is None
    cache.fill(b"k", "v1", 10, ticket)  # ...and what the first read got is not kept
    cache.fill(b"k", "v1", 10, during)
    assert cache.get(b"k") is None
    cache.fill(b"k", "v2", 10, cache.ticket())
    assert cache.get(b"k") == "v2"
    with cache.writing([b"other"]):
        pass
    assert cache.get(b"k") == "v2"  # a write of other keys leaves it


def test_a_zero_byte_cache_keeps_nothing() -> None:
    cache: RecordCache[str] = RecordCache(0)
    cache.fill(b"k", "v", 1, cache.ticket())
    assert cache.get(b"k") is None


def _stored(db: Rdict, bucket: str, key: str) -> ObjectVersion | None:
    raw = db.get(keys.object_key(bucket, key))
    return None if raw is None else version_from_json(raw)


def test_a_kept_record_is_the_stored_one_after_every_mutation(
    db: Rdict, state: StateMachine, make_version: VersionFactory
) -> None:
    rng = random.Random(8)
    one(state, create("b"))
    names = ["k0", "k1", "k2"]
    kept = 0
    for step in range(400):
        key = rng.choice(names)
        kind = rng.randrange(6)
        rid = f"r{step}"
        if kind == 0:
            mutation: object = PutObject(rid, make_version("b", key, size_bytes=rng.randrange(99)))
        elif kind == 1:
            mutation = DeleteObject(rid, "b", key, "", marker_version_id=f"m{step:025d}")
        elif kind == 2:
            mutation = PutObjectTagging(rid, "b", key, "", {"step": str(step)})
        elif kind == 3:
            mutation = SetObjectAcl(rid, "b", key, rng.choice(["private", "public-read"]))
        elif kind == 4:
            mutation = PutBucketVersioning(rid, "b", rng.choice(["Enabled", "Suspended"]))
        else:
            mutation = PutObject(rid, make_version("b", rng.choice(names)))
        run(state, mutation)  # type: ignore[arg-type]
        for name in names:
            stored = _stored(db, "b", name)
            cached = state.cached_object("b", name)
            if cached is not None:
                kept += 1
                assert stored is not None and cached == stored, (step, name)
            if stored is not None and rng.random() < 0.5:
                assert state.get_object("b", name) == stored  # reads from the database, keeps it
            elif stored is None and rng.random() < 0.5:
                try:
                    state.get_object("b", name)
                except errors.NoSuchKey:
                    pass
    assert kept > 200  # the check above ran, often


def test_a_state_without_a_cache_keeps_nothing(db: Rdict, make_version: VersionFactory) -> None:
    state = StateMachine(db, record_cache_bytes=0)
    one(state, create("b"))
    one(state, PutObject("p", make_version("b", "k")))
    state.get_object("b", "k")
    assert state.cached_object("b", "k") is None


class _SlowReads:
    """The database, with every get made on a reader thread returning a
    little late: the window in which a commit can land between a fill's
    read and the fill itself, made wide."""

    def __init__(self, db: Rdict, readers: set[int]) -> None:
        self._db = db
        self._readers = readers

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        if threading.get_ident() in self._readers:
            time.sleep(0.0005)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_readers_racing_commits_never_see_a_record_older_than_the_last_commit(
    db: Rdict, make_version: VersionFactory
) -> None:
    """A writer commits versions 1..N of one key; readers on other threads
    fill from the database (slowly) and look at the kept record: once
    commit n returned, a kept record is n or later."""
    reader_ids: set[int] = set()
    state = StateMachine(_SlowReads(db, reader_ids))  # type: ignore[arg-type]
    one(state, create("b"))
    one(state, PutObject("p0", make_version("b", "k", size_bytes=0)))
    committed = [0]
    stop = threading.Event()
    seen_older: list[tuple[int, int]] = []

    def read() -> None:
        reader_ids.add(threading.get_ident())
        while not stop.is_set():
            state.get_object("b", "k")
            returned = committed[0]  # commits 1..returned have returned
            kept = state.cached_object("b", "k")
            if kept is not None and kept.size_bytes < returned:
                seen_older.append((kept.size_bytes, returned))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for n in range(1, 300):
            one(state, PutObject(f"p{n}", make_version("b", "k", size_bytes=n)))
            committed[0] = n
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert seen_older == []


def test_a_put_keeps_its_record_decoded_once_written(
    db: Rdict, state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    version = make_version("b", "k")
    run(state, PutObject("r1", version))
    cached = state.cached_object("b", "k")  # no read of the database before
    assert cached is not None and cached == _stored(db, "b", "k")
    run(state, PutObjectTagging("r2", "b", "k", "", {"t": "1"}))
    assert state.cached_object("b", "k") is None  # a write without a decoded record drops it
