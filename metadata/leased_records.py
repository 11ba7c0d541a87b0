"""Record leases, the gateway's side: GetObject answered from records this
gateway fetched, while a lease from the read-lease holder runs.

A small GET spends most of its CPU and half its latency on the metadata hop
(docs/benchmarks.md, "Read leases after a lull"). LeasedRecords keeps the
records GetObject answered and answers from them — linearizably — while the
replica the gateway calls (the read-lease holder, usually) grants it a
record lease. The replica's side is metadata/record_leases.py.

One RecordLeases stream to that replica, opened on the first lookup or
write and closed after IDLE_SECONDS without either, carries (gateway → replica) asks for
a lease, acknowledgements of invalidations and a count of the reads answered
here; (replica → gateway) grants and invalidations. An invalidation names
the state keys of the object records one applied batch writes and its log
revision; the replica sends it before it writes the batch and, while this
gateway's lease may run, writes only once the gateway acknowledged it.

- **Keeping a record** fetched by GetObject: only if the stream it was
  fetched under is still the open one, and the revision the replica had
  applied before it read the record (ObjectRecord.read_revision) is no older
  than every invalidation received on that stream. Every invalidation drops
  its records, whenever they were kept. A PutObject sent while the stream is
  open asks the replica to read the key's record back after the write
  (want_record); when it is the version sent, the answer carries the
  revision read at (stored_revision), and the version is kept on the same
  terms — so a GET soon after a PUT finds it.
- **Answering from a record**: only while the lease runs — until the ask's
  send time + the granted duration, by this gateway's clock.
- **Early invalidations.** The replica announces a batch of its own before
  it appends it to the log (no revision yet: *pending*); the gateway drops
  the records it names and keeps none of them until a later notice resolves
  it (the batch applied, with its revision, or its append failed). A write's
  wait for this gateway then usually ends at once: the acknowledgement came
  while etcd committed the entry.
- A stream that ends (either way) drops every record; the next opens afresh.

Why an answer from a record is linearizable: take a write W of that key
shown (answered, or seen by a read) before the lookup began. The replica
that showed it waited for the read-lease holder H to apply it (or H's read
lease had ended — but a record lease ends inside H's read lease). H wrote W's
batch either while this gateway's lease could run — then only after this
gateway acknowledged its notice, or its early notice naming every record
written (the key dropped, and held until the batch's own notice, with its
revision, arrives) — or before the grant now in force — then its notice
came before that grant on the stream. Either way the key was dropped before
the lookup, and a record kept since was read at a revision no older than
W's notice, so it holds W.

Invariants: nothing is answered from a record outside a lease; an
acknowledgement is sent only after its invalidation's records are dropped;
a record kept is never older than an invalidation already received, nor one
an unresolved early invalidation names; records
take at most bytes_max (estimated), the least recently used go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import grpc.aio
from prometheus_client import Counter

from metadata import keys
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from tessera.model import ObjectVersion

log = logging.getLogger(__name__)

LOOKUPS = Counter(
    "tessera_gateway_record_lease_lookups_total",
    "GetObject lookups in the gateway's leased records: answered from one (hit) or asked (miss).",
    ["result"],
)
_HITS = LOOKUPS.labels("hit")
_MISSES = LOOKUPS.labels("miss")

IDLE_SECONDS = 10.0  # no lookup or write for this long: the stream closes, records go
RENEW_SHARE = 0.5  # ask again once less than this share of the last grant is left
ASK_AGAIN_SECONDS = 0.2  # an ask unanswered (or refused) this long may be repeated
STREAM_SECONDS = 600.0  # one stream's deadline; the next opens on the next lookup
RECORD_OVERHEAD_BYTES = 2048  # a decoded record's memory besides its inline bytes
RECORD_SHARE_MAX = 16  # a record larger than this share of bytes_max is not kept
FAILED_BACKOFF_SECONDS = 1.0  # after a stream failed, lookups go to metadata this long
# Invalidations are acknowledged while a lease runs and this long after (the
# replica counts a lease as running a little longer than the gateway does);
# without a lease nobody waits for them, and they cost a message each.
ACK_AFTER_LEASE_SECONDS = 1.0
# A lease is given back after this long without a lookup: the writes that
# follow a burst of reads (a PUT or DELETE phase) do not wait for a gateway
# that no longer reads.
RELEASE_IDLE_SECONDS = 0.1
# ... and as soon as a write's invalidation comes this long after the last
# lookup: a lease costs each write a round trip, worth it only while reads come.
RELEASE_ON_WRITE_SECONDS = 0.005


@dataclass(frozen=True, slots=True)
class Ticket:
    """Taken before a GetObject is sent; its answer may be kept only under it."""

    session: int


class LeasedRecords:
    """The records one gateway keeps under record leases from one replica."""

    def __init__(
        self,
        stub: Callable[[], pb_grpc.MetadataStub],
        call_metadata: tuple[tuple[str, str], ...],
        bytes_max: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """stub: the stub of the replica GetObject goes to now."""
        self._stub = stub
        self._call_metadata = call_metadata
        self._bytes_max = bytes_max
        self._clock = clock
        self._records: OrderedDict[bytes, tuple[ObjectVersion, int]] = OrderedDict()
        self._bytes = 0
        self._session = 0  # the open stream's number (0: none open)
        self._sessions = 0
        self._invalidated_through = math.inf  # until the stream's first notice
        self._lease_until = -math.inf
        self._granted_seconds = 0.0
        self._asks = 0
        self._asked: dict[int, float] = {}  # ask number -> clock when sent
        self._asked_at = -math.inf
        self._ask_due = False
        self._release_due = False
        self._acked = 0
        # early (pending) invalidations not yet resolved: number -> state keys,
        # and how many of them hold each key
        self._pending: dict[int, list[bytes]] = {}
        self._held: dict[bytes, int] = {}
        self._deferred: dict[bytes, tuple[Ticket, ObjectVersion, int]] = {}  # fills held back
        self._reads = 0
        self._last_used = -math.inf
        self._last_lookup = -math.inf
        self._failed_at = -math.inf
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stub_in_use: pb_grpc.MetadataStub | None = None

    # ------------------------------------------------------------ lookups

    def get(self, bucket: str, key: str) -> ObjectVersion | None:
        """The key's current record, if kept and a lease runs (None: ask metadata)."""
        now = self._clock()
        self._last_used = self._last_lookup = now
        self._keep_stream(now)
        found = None
        if now < self._lease_until:
            state_key = keys.object_key(bucket, key)
            kept = self._records.get(state_key)
            if kept is not None:
                self._records.move_to_end(state_key)
                found = kept[0]
                self._reads += 1
        if (
            self._session
            and self._lease_until - now < self._granted_seconds * RENEW_SHARE
            and now - self._asked_at >= ASK_AGAIN_SECONDS
        ):
            self._asked_at = now
            self._ask_due = True
            self._wake.set()
        (_MISSES if found is None else _HITS).inc()
        return found

    def holds(self, bucket: str, key: str) -> bool:
        """Whether get(bucket, key) would answer from a record now."""
        return self._clock() < self._lease_until and (keys.object_key(bucket, key) in self._records)

    def ticket(self, *, opening: bool = False) -> Ticket:
        """Taken before a call whose answer may be kept; opening: the call
        is a write, whose record is kept too (the stream opens for it)."""
        if opening:
            now = self._clock()
            self._last_used = now
            self._keep_stream(now)
        return Ticket(self._session)

    def fill(self, ticket: Ticket, version: ObjectVersion, read_revision: int) -> None:
        """Keeps a record GetObject answered, if nothing newer was invalidated
        since (see the module docstring)."""
        if (
            not ticket.session
            or ticket.session != self._session
            or read_revision < self._invalidated_through
            or not read_revision
        ):
            return
        cost = RECORD_OVERHEAD_BYTES + len(version.inline_data or b"")
        if cost * RECORD_SHARE_MAX > self._bytes_max:
            return
        state_key = keys.object_key(version.bucket, version.key)
        if state_key in self._held:
            # an early notice names it: decided again once that is resolved
            self._deferred[state_key] = (ticket, version, read_revision)
            return
        self._drop(state_key)
        self._records[state_key] = (version, cost)
        self._bytes += cost
        while self._bytes > self._bytes_max:
            _, (_, dropped) = self._records.popitem(last=False)
            self._bytes -= dropped

    def _drop(self, state_key: bytes) -> None:
        kept = self._records.pop(state_key, None)
        if kept is not None:
            self._bytes -= kept[1]

    def _clear(self) -> None:
        self._records.clear()
        self._bytes = 0

    # ------------------------------------------------------------ the stream

    def _keep_stream(self, now: float) -> None:
        stub = self._stub()
        if self._task is not None and not self._task.done():
            if stub is self._stub_in_use:
                return
            self._task.cancel()  # GetObject moved to another replica: follow it
        if now - self._failed_at < FAILED_BACKOFF_SECONDS:
            return
        self._stub_in_use = stub
        self._task = asyncio.get_running_loop().create_task(
            self._run(stub), name="metadata-record-leases"
        )

    async def _run(self, stub: pb_grpc.MetadataStub) -> None:
        self._sessions += 1
        session = self._sessions
        self._session = session
        self._invalidated_through = math.inf
        self._clear()
        # Numbers are the stream's own: nothing of an earlier stream's carries over.
        self._acked = 0
        self._pending.clear()
        self._held.clear()
        self._deferred.clear()
        self._reads = 0
        self._asked.clear()
        self._ask_due = True
        call = stub.RecordLeases(timeout=STREAM_SECONDS, metadata=self._call_metadata)
        writer = asyncio.get_running_loop().create_task(self._write(call))
        reader = asyncio.get_running_loop().create_task(self._read(call))
        try:
            done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as exc:
            # Cancelled (closed here) and the stream's own deadline are
            # ordinary ends: the next lookup opens another at once.
            if exc.code() not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED):
                log.info("record lease stream ended: %s", exc.details() or exc.code())
                self._failed_at = self._clock()
        except Exception:
            log.exception("record lease stream failed")
            self._failed_at = self._clock()
        finally:
            writer.cancel()
            reader.cancel()
            call.cancel()
            if self._session == session:
                self._session = 0
                self._lease_until = -math.inf
                self._asked.clear()
                self._clear()

    async def _read(self, call: grpc.aio.StreamStreamCall) -> None:
        async for notice in _notices(call):
            if notice.invalidation:
                self._invalidated(notice)
            if notice.granted:
                sent_at = self._asked.pop(notice.granted, None)
                if sent_at is not None and notice.duration_seconds > 0:
                    self._lease_until = max(self._lease_until, sent_at + notice.duration_seconds)
                    self._granted_seconds = notice.duration_seconds
                    self._wake.set()  # the writer now watches for lookups stopping

    def _invalidated(self, notice: pb.RecordLeaseNotice) -> None:
        """Drops what an invalidation names, then acknowledges it. Its
        revision counts before any fill it lets through is decided."""
        if notice.everything:
            self._clear()
        else:
            for state_key in notice.state_keys:
                self._drop(state_key)
        if self._invalidated_through == math.inf:  # the stream's first notice
            self._invalidated_through = notice.revision
        else:
            self._invalidated_through = max(self._invalidated_through, notice.revision)
        if notice.pending:  # none of these is kept until it is resolved
            self._pending[notice.invalidation] = list(notice.state_keys)
            for state_key in notice.state_keys:
                self._held[state_key] = self._held.get(state_key, 0) + 1
        for number in notice.resolves:
            for state_key in self._pending.pop(number, ()):
                left = self._held.pop(state_key) - 1
                if left:
                    self._held[state_key] = left
                elif state_key in self._deferred:
                    self.fill(*self._deferred.pop(state_key))
        self._acked = notice.invalidation
        now = self._clock()
        if now < self._lease_until and now - self._last_lookup > RELEASE_ON_WRITE_SECONDS:
            self._release_due = True  # writes go on, lookups stopped: give the lease back
        if now < self._lease_until + ACK_AFTER_LEASE_SECONDS:
            self._wake.set()  # acknowledged only while the replica may wait for it

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        """Sends acknowledgements, asks and read counts as they come due;
        ends the stream after IDLE_SECONDS without a lookup or write."""
        acked = 0
        self._wake.set()
        while True:
            look = IDLE_SECONDS / 2  # for the idle close, and while leased for the release
            if self._clock() < self._lease_until:
                look = min(look, RELEASE_IDLE_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(look):
                    await self._wake.wait()
            self._wake.clear()
            now = self._clock()
            if now - self._last_used > IDLE_SECONDS and now >= self._lease_until:
                await call.done_writing()
                return
            request = pb.RecordLeaseRequest()
            idle = now - self._last_lookup
            if now < self._lease_until and (
                idle > RELEASE_IDLE_SECONDS
                or (self._release_due and idle > RELEASE_ON_WRITE_SECONDS)
            ):
                # No lookups lately: stop answering from records, then let the
                # replica's writes stop waiting for this gateway.
                self._lease_until = -math.inf
                self._asked.clear()
                request.release = True
            self._release_due = False
            if self._acked > acked and now < self._lease_until + ACK_AFTER_LEASE_SECONDS:
                acked = request.acked = self._acked
            if self._ask_due:
                self._ask_due = False
                self._asks += 1
                request.ask = self._asks
                self._asked = {n: t for n, t in self._asked.items() if now - t < IDLE_SECONDS}
                self._asked[self._asks] = now  # the lease runs from before the ask is sent
            if self._reads:
                request.reads, self._reads = self._reads, 0
            if request.ask or request.acked or request.reads or request.release:
                await call.write(request)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None


async def _notices(call: grpc.aio.StreamStreamCall) -> AsyncIterator[pb.RecordLeaseNotice]:
    while True:
        notice = await call.read()
        if notice is grpc.aio.EOF:  # type: ignore[attr-defined]
            return
        assert isinstance(notice, pb.RecordLeaseNotice)
        yield notice
