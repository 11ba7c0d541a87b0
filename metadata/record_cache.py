"""Recently read object records, decoded, for reads on the replica's event
loop (docs/metadata.md, "Recent records on the loop").

A GetObject reads one record. Read on the read executor, the thread hop
costs the replica more CPU than the read itself (a third of its CPU per
GET of a 4 KiB object); read on the loop, a record that misses RocksDB's
caches would stall the loop on the disk, and rocksdict has no cache-only
read. RecordCache keeps the records the executor read last, decoded,
keyed by their state key and bounded by an estimate of their memory
(least recently used first out), and a read finds them there on the loop.

Used from the loop (get), the read executor (ticket, fill) and the state's
writes (writing: on the loop or the writer thread), under one lock.

Invariants: a kept record is the database's, except for the keys of a
write in progress, which are not kept at all. StateMachine.commit writes
its batch inside writing(keys): the keys are dropped when the write starts,
and no fill is kept from then until the write ended; a fill is also
dropped when a write started or ended between its ticket (taken before its
database read) and the fill. So a read never finds a record older than one
an earlier read got from the database, and a strong read, which looks here
only once it waited for the log position it must see (the read index or the
lease), finds nothing or a record no older than that position's. A
write's own records, as its apply had them decoded, are kept once it ended
(written): they are then the database's.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

from metadata import metrics

Record = TypeVar("Record")

# A decoded ObjectVersion takes about this many bytes of memory per byte of
# its stored JSON (measured: 1,991 for a 522-byte record of a 4+2 object).
MEMORY_PER_STORED_BYTE = 4
# A record larger than this share of the cache is not kept (one large
# record must not empty it).
RECORD_SHARE_MAX = 16

_HITS = metrics.RECORD_CACHE.labels("hit")
_MISSES = metrics.RECORD_CACHE.labels("miss")


class RecordCache(Generic[Record]):
    def __init__(self, bytes_max: int) -> None:
        self._bytes_max = max(0, bytes_max)
        self._entries: OrderedDict[bytes, tuple[Record, int]] = OrderedDict()
        self._bytes = 0
        self._generation = 0  # bumped when a write starts and when it ends
        self._writes = 0  # writes in progress
        self._lock = threading.Lock()

    def get(self, key: bytes) -> Record | None:
        """key's record, if kept (and marks it recently used)."""
        if not self._bytes_max:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            _MISSES.inc()
            return None
        _HITS.inc()
        return entry[0]

    def ticket(self) -> int:
        """Take before reading the database for a fill."""
        with self._lock:
            return self._generation

    def fill(self, key: bytes, record: Record, size_bytes: int, ticket: int) -> None:
        """Keeps record (read from the database after ticket() gave ticket)
        unless a write is in progress, or started or ended since."""
        if not self._bytes_max or size_bytes * RECORD_SHARE_MAX > self._bytes_max:
            return
        with self._lock:
            if ticket != self._generation or self._writes:
                return
            self._keep(key, record, size_bytes)

    def written(self, records: dict[bytes, tuple[Record, int]]) -> None:
        """Keeps records (key -> (record, size)) a write just wrote — the
        database's values, once it ended — unless another write is in progress."""
        if not records or not self._bytes_max:
            return
        with self._lock:
            if self._writes:
                return
            for key, (record, size_bytes) in records.items():
                if size_bytes * RECORD_SHARE_MAX <= self._bytes_max:
                    self._keep(key, record, size_bytes)

    def _keep(self, key: bytes, record: Record, size_bytes: int) -> None:
        """Under the lock: key's record is this one (least recently used out)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._entries[key] = (record, size_bytes)
        self._bytes += size_bytes
        while self._bytes > self._bytes_max:
            _, (_, evicted_bytes) = self._entries.popitem(last=False)
            self._bytes -= evicted_bytes

    @contextlib.contextmanager
    def writing(self, keys: list[bytes]) -> Iterator[None]:
        """Around a database write of keys: they are forgotten as it starts,
        and no fill is kept until it ended (nor any whose ticket is older)."""
        with self._lock:
            self._generation += 1
            self._writes += 1
            for key in keys:
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
        try:
            yield
        finally:
            with self._lock:
                self._generation += 1
                self._writes -= 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
