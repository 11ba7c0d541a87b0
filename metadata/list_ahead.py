"""The next listing page, read while the client is still busy with this one
(docs/metadata.md, "Listing pages ahead").

A client walking a bucket asks for a page, waits for it, parses it, and only
then asks for the next one with the last key as its start. On a replica the
walk and the page's message cost about 3 ms of a 1,000-key page's 7, all on
the request's path. When a page is truncated the replica therefore reads the
next one at once, in its read executor, while the gateway renders the XML and
the client parses it; the request for it then finds it built.

A page read ahead is served only if it is what a fresh read would return at
that moment. That holds when no write to the bucket's current-object records
(o/ keys) or to its bucket record (b/ key) was in progress when the page's
read began or started since: BucketWrites tracks exactly that, from the keys
each state write changes (StateMachine.commit writes its batch inside
BucketWrites.writing). The check runs in the strong read's read function,
after the read index or the read lease said the replica has applied what the
read must see, so a page served from here is linearizable exactly as a fresh
one: its state is the replica's current state for that bucket.

Invariants:
- changed(bucket, ticket) is True if a write touching the bucket was in
  progress when ticket() was taken or started after it (it may be True in
  more cases: the table of buckets is bounded, and forgetting it counts as a
  change of every bucket);
- at most PAGES_MAX pages are kept (least recently started first out); a
  page is served only within PAGE_SECONDS_MAX of its read, and pages older
  than that are dropped as the next read ahead starts; a stale or failed read
  ahead is dropped and the request reads afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from metadata import keys, metrics

T = TypeVar("T")

PAGES_MAX = 32  # pages kept (a 1,000-key page's message is ~100-200 KB)
PAGE_SECONDS_MAX = 5.0  # a page nobody asked for within this is dropped
BUCKETS_TRACKED_MAX = 4096  # past this, the table starts over (every bucket "changed")


def buckets_of(written: Iterable[bytes]) -> set[str]:
    """The buckets whose listing a write of these state keys may change: the
    bucket of every current-object key (o/) and bucket record (b/)."""
    buckets: set[str] = set()
    for key in written:
        if key.startswith(keys.OBJECT):
            end = key.find(b"\x00", len(keys.OBJECT))
            if end >= 0:
                buckets.add(key[len(keys.OBJECT) : end].decode())
        elif key.startswith(keys.BUCKET):
            buckets.add(key[len(keys.BUCKET) :].decode())
    return buckets


class BucketWrites:
    """Which buckets were written since a ticket (thread-safe: the state's
    writes run on the loop or the writer thread, reads in the executor)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0  # bumped as each write starts and as it ends
        self._floor = 0  # every bucket counts as changed at this generation
        self._changed: dict[str, int] = {}  # bucket -> generation of its last write start/end
        self._writing: dict[str, int] = {}  # bucket -> writes in progress

    def ticket(self) -> int:
        """Take before reading the database."""
        with self._lock:
            return self._generation

    def changed(self, bucket: str, ticket: int) -> bool:
        """Whether a write to bucket was in progress at ticket or started since."""
        with self._lock:
            if self._writing.get(bucket):
                return True
            return max(self._floor, self._changed.get(bucket, 0)) > ticket

    @contextlib.contextmanager
    def writing(self, buckets: set[str]) -> Iterator[None]:
        """Around a database write that changes these buckets' listings."""
        if not buckets:
            yield
            return
        self._mark(buckets, 1)
        try:
            yield
        finally:
            self._mark(buckets, -1)

    def _mark(self, buckets: set[str], step: int) -> None:
        with self._lock:
            self._generation += 1
            if len(self._changed) > BUCKETS_TRACKED_MAX and not self._writing:
                self._changed.clear()
                self._floor = self._generation
            for bucket in buckets:
                self._changed[bucket] = self._generation
                left = self._writing.get(bucket, 0) + step
                if left:
                    self._writing[bucket] = left
                else:
                    del self._writing[bucket]


@dataclass
class _Page(Generic[T]):
    bucket: str
    ticket: int  # taken before the page's read began
    stored_at: float
    page: T


class PagesAhead(Generic[T]):
    """Pages read ahead, by the request that will ask for them (loop only)."""

    def __init__(self, writes: BucketWrites, clock: Callable[[], float] = time.monotonic) -> None:
        self._writes = writes
        self._clock = clock
        self._pages: OrderedDict[tuple[object, ...], asyncio.Future[_Page[T] | None]] = (
            OrderedDict()
        )

    def read_ahead(
        self, bucket: str, request: tuple[object, ...], read: Callable[[], Awaitable[T]]
    ) -> None:
        """Starts reading the page request will ask for (read: the read
        itself, e.g. on the read executor; the ticket is taken before it)."""
        if request in self._pages:
            return
        ticket = self._writes.ticket()

        async def run() -> _Page[T] | None:
            try:
                page = await read()
            except Exception:  # the request reads afresh and meets the error itself
                metrics.LIST_PAGES_AHEAD.labels("failed").inc()
                return None
            return _Page(bucket, ticket, self._clock(), page)

        self._drop_old()
        self._pages[request] = asyncio.ensure_future(run())
        while len(self._pages) > PAGES_MAX:
            self._pages.popitem(last=False)[1].cancel()
            metrics.LIST_PAGES_AHEAD.labels("dropped").inc()

    def _drop_old(self) -> None:
        """Drops the pages, oldest first, that are too old to be served."""
        now = self._clock()
        while self._pages:
            request, pending = next(iter(self._pages.items()))
            if not pending.done():
                return
            found = None if pending.cancelled() else pending.result()
            if found is not None and now - found.stored_at <= PAGE_SECONDS_MAX:
                return
            del self._pages[request]
            metrics.LIST_PAGES_AHEAD.labels("dropped").inc()

    async def take(self, request: tuple[object, ...]) -> T | None:
        """The page read ahead for request, if it is still what a read now
        would return (call after the strong read's wait); else None."""
        pending = self._pages.get(request)
        if pending is None:
            return None
        try:
            found = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this request was cancelled
            found = None  # dropped meanwhile (more than PAGES_MAX pages)
        if self._pages.get(request) is pending:
            del self._pages[request]  # served once: the walk moves on
        if found is None:
            return None
        if self._clock() - found.stored_at > PAGE_SECONDS_MAX or self._writes.changed(
            found.bucket, found.ticket
        ):
            metrics.LIST_PAGES_AHEAD.labels("stale").inc()
            return None
        metrics.LIST_PAGES_AHEAD.labels("served").inc()
        return found.page
