"""Record leases, the replica's side: gateways that answer GetObject from
records they fetched, kept coherent by invalidations sent before each apply.

A gateway opens one RecordLeases stream to the replica it sends its calls to
(metadata/leased_records.py is its side). On it the gateway asks for a
*record lease*, acknowledges invalidations and counts the reads it answered
itself; the replica grants leases and sends, **before it writes each applied
batch** (Follower.before_commit), the state keys of the object records the
batch writes, with the batch's revision.

- **Granting.** Only while this replica holds the read lease, and never past
  it: a grant of d seconds runs on the gateway from when it sent the ask, by
  its clock, and d is chosen so that d x CLOCK_RATE + CLOCK_MARGIN_SECONDS
  from now still lies inside the read lease (and d <= LEASE_SECONDS_MAX).
  The replica counts the gateway's lease as possibly running until now +
  d x CLOCK_RATE + CLOCK_MARGIN_SECONDS by its own clock.
- **Invalidating.** Every batch that writes object records is announced to
  every open stream, in order, before it is written, and — to a gateway
  whose lease may still run — the write waits until that gateway has
  acknowledged the invalidation, or until its lease has surely ended (a hung
  gateway delays writes by at most its lease, like a hung read-lease holder).
  Notices on one stream keep their order: a grant follows every invalidation
  of a batch written before it. A gateway that stopped looking records up
  gives its lease back (release): it answers from none first, so writes
  need not wait for it from then on.
- **Early.** A batch this replica appends itself is announced before the
  append too, to gateways whose lease may run (announce_early: the records
  its mutations name, *pending*, no revision); the gateway drops them and
  keeps none of them until the batch's own notice (or not_appended's)
  resolves it. When the early notice named every record the batch writes
  and was acknowledged, the write does not wait again: the round trip
  overlapped etcd's commit.

Why a gateway's answer from its records is linearizable: see the module
docstring of metadata/leased_records.py and docs/metadata.md, "Record
leases". What this side guarantees: (1) a batch written here while a
gateway's lease may run was acknowledged by it first (its notice, or an
early notice naming every record it writes); (2) a batch written
before a grant was announced before the grant on the same stream; (3) a
lease ends no later than this replica's read lease, so a peer that shows a
write without waiting for this replica (the read lease ended) never does so
while a gateway lease granted here runs.

Invariants: no grant without the read lease; a subscriber's possible lease
end only grows, until the gateway releases it; an invalidation number is
never reused on a stream; no notice is dropped — a stream with QUEUE_MAX
notices waiting ends instead, and writes wait out its lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from metadata import keys, metrics
from metadata.mutations import (
    CompleteMultipartUpload,
    DeleteObject,
    Mutation,
    PutObject,
    PutObjectTagging,
    SetObjectAcl,
    SetObjectLock,
    UpdatePlacement,
)
from metadata.read_lease import CLOCK_MARGIN_SECONDS, CLOCK_RATE, WANT_READS, ReadLeases
from proto import tessera_pb2 as pb

log = logging.getLogger(__name__)

LEASE_SECONDS_MAX = 0.5  # a hung gateway delays writes by at most about this
LEASE_SECONDS_MIN = 0.05  # less than this left of the read lease: refused
QUEUE_MAX = 4096  # notices waiting for one gateway before its stream is ended
KEYS_PER_NOTICE_MAX = 512  # a batch writing more object records invalidates everything


def possible_end(now: float, duration: float) -> float:
    """Until when a lease of duration granted at now may run, by this clock (pure)."""
    return now + duration * CLOCK_RATE + CLOCK_MARGIN_SECONDS


def grantable(read_lease_left: float) -> float:
    """The longest record lease that surely ends inside a read lease with
    read_lease_left seconds left (pure; 0: none)."""
    duration = min(LEASE_SECONDS_MAX, (read_lease_left - CLOCK_MARGIN_SECONDS) / CLOCK_RATE)
    return duration if duration >= LEASE_SECONDS_MIN else 0.0


class Subscriber:
    """One gateway's stream: its notices to send, its lease, its acknowledgements."""

    def __init__(self) -> None:
        self.notices: deque[pb.RecordLeaseNotice] = deque()
        self.ready = asyncio.Event()  # notices to send
        self.lease_until = 0.0  # by this replica's clock: its lease surely ended then
        self.sent = 0  # the last invalidation number given out
        self.acked = 0
        self.acked_changed = asyncio.Event()
        self.overflowed = False
        self.released = False  # the gateway gave its lease back (until the next grant)

    def send(self, notice: pb.RecordLeaseNotice) -> None:
        if len(self.notices) >= QUEUE_MAX:
            # A gateway this far behind ends its stream (and drops every
            # record); writes wait out its lease, as a hung one's.
            self.overflowed = True
        else:
            self.notices.append(notice)
        self.ready.set()

    def take(self) -> list[pb.RecordLeaseNotice]:
        taken = list(self.notices)
        self.notices.clear()
        self.ready.clear()
        return taken

    def note_acked(self, number: int) -> None:
        if number > self.acked:
            self.acked = min(number, self.sent)
            self.acked_changed.set()


@dataclass(frozen=True, slots=True)
class Early:
    """A batch announced before its append: the records it names, and the
    pending notice's number on each stream that got it."""

    keys: frozenset[bytes]
    numbers: dict[Subscriber, int]


def object_keys_of(mutation: Mutation) -> list[bytes]:
    """The object records a mutation names (its apply may write others,
    or none: what it writes is announced again when applied)."""
    if isinstance(mutation, PutObject):
        return [keys.object_key(mutation.version.bucket, mutation.version.key)]
    if isinstance(mutation, NAMING_ONE_KEY):
        return [keys.object_key(mutation.bucket, mutation.key)]
    return []


NAMING_ONE_KEY = (
    DeleteObject,
    PutObjectTagging,
    SetObjectAcl,
    SetObjectLock,
    CompleteMultipartUpload,
    UpdatePlacement,
)


class RecordLeases:
    """Every gateway stream of this replica, and the waits of its writes on them."""

    def __init__(self, leases: ReadLeases, clock: Callable[[], float] = time.monotonic) -> None:
        self._leases = leases
        self._clock = clock
        self._subscribers: set[Subscriber] = set()
        self._gone: set[Subscriber] = set()  # ended streams whose leases may still run
        # The last revision announced: a stream that opens later is told to
        # keep no record read before it (a batch announced but not yet
        # written when it opened is never announced to it).
        self._announced = 0
        self._early: dict[str, Early] = {}  # by batch id, until applied or failed

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # ------------------------------------------------------------ the stream

    async def serve(
        self, requests: AsyncIterator[pb.RecordLeaseRequest], closing: asyncio.Event
    ) -> AsyncIterator[pb.RecordLeaseNotice]:
        """One gateway's RecordLeases stream, until it ends either way or
        closing is set."""
        subscriber = Subscriber()
        subscriber.sent = 1
        subscriber.send(
            pb.RecordLeaseNotice(invalidation=1, revision=self._announced, everything=True)
        )
        self._subscribers.add(subscriber)
        metrics.RECORD_LEASE_STREAMS.set(len(self._subscribers))
        reader = asyncio.get_running_loop().create_task(self._read(subscriber, requests))
        stopping = asyncio.ensure_future(closing.wait())
        try:
            while not reader.done() and not closing.is_set():
                waiting = asyncio.ensure_future(subscriber.ready.wait())
                await asyncio.wait((waiting, reader, stopping), return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if subscriber.overflowed:  # ends the stream: the gateway drops every record
                    metrics.RECORD_LEASE_OVERFLOWS.inc()
                    log.info("ended a record lease stream %d notices behind", QUEUE_MAX)
                    return
                for notice in subscriber.take():
                    yield notice
            if reader.done():
                reader.result()  # the gateway's stream failed: so does this one
        finally:
            reader.cancel()
            stopping.cancel()
            # Its lease may still run: writes keep waiting it out (or for
            # acknowledgements that will not come) until it has surely ended.
            self._subscribers.discard(subscriber)
            self._lingering(subscriber)
            metrics.RECORD_LEASE_STREAMS.set(len(self._subscribers))

    def _lingering(self, subscriber: Subscriber) -> None:
        left = subscriber.lease_until - self._clock()
        if left <= 0:
            return
        self._gone.add(subscriber)
        asyncio.get_running_loop().call_later(left, self._gone.discard, subscriber)

    async def _read(
        self, subscriber: Subscriber, requests: AsyncIterator[pb.RecordLeaseRequest]
    ) -> None:
        async for request in requests:
            if request.release:  # the gateway stopped answering from its records
                subscriber.lease_until = 0.0
                subscriber.released = True
                subscriber.acked_changed.set()  # a write waiting for it goes on
            if request.acked:
                subscriber.note_acked(request.acked)
            if request.reads:
                self._leases.note_reads(min(request.reads, WANT_READS))
            if request.ask:
                self._grant(subscriber, request.ask)

    def _grant(self, subscriber: Subscriber, ask: int) -> None:
        duration = 0.0
        if self._leases.own_valid():
            duration = grantable(self._leases.own_remaining())
        if duration > 0:
            ends = possible_end(self._clock(), duration)
            subscriber.lease_until = max(subscriber.lease_until, ends)
            subscriber.released = False
            metrics.RECORD_LEASE_GRANTS.labels("granted").inc()
        else:
            # Asked while this replica does not hold the read lease: asking
            # counts as reads, so it takes one.
            self._leases.note_reads(WANT_READS)
            metrics.RECORD_LEASE_GRANTS.labels("refused").inc()
        subscriber.send(pb.RecordLeaseNotice(granted=ask, duration_seconds=duration))

    # ------------------------------------------------------------ writes

    def announce_early(self, batch_id: str, mutations: Sequence[Mutation]) -> None:
        """Before this replica appends a batch: every gateway drops the object
        records its mutations name and keeps none of them until the batch is
        applied (or its append failed), so that by then the acknowledgement
        has usually come, while etcd committed the entry."""
        now = self._clock()
        leased = [s for s in self._subscribers if s.lease_until > now]
        if not leased:
            return  # a gateway without a lease is not waited for: it gets the batch's notice only
        named = frozenset(key for mutation in mutations for key in object_keys_of(mutation))
        if not named or len(named) > KEYS_PER_NOTICE_MAX:
            return
        numbers = {}
        for subscriber in leased:
            subscriber.sent += 1
            subscriber.send(
                pb.RecordLeaseNotice(
                    invalidation=subscriber.sent, state_keys=sorted(named), pending=True
                )
            )
            numbers[subscriber] = subscriber.sent
        self._early[batch_id] = Early(named, numbers)

    def not_appended(self, batch_id: str) -> None:
        """The batch's append failed: its early notices are settled. (It may
        still have landed: it is then announced as any batch, when applied.)"""
        early = self._early.pop(batch_id, None)
        if early is None:
            return
        for subscriber, number in early.numbers.items():
            if subscriber in self._subscribers:
                subscriber.sent += 1
                subscriber.send(
                    pb.RecordLeaseNotice(invalidation=subscriber.sent, resolves=[number])
                )

    async def before_commit(
        self, revision: int, state_keys: Sequence[bytes], batch_ids: Sequence[str] = ()
    ) -> None:
        """Announces the batches batch_ids at revision, which write these
        object records, to every gateway, and returns once each whose lease
        may run has acknowledged it — or the batch's early notice, when that
        named every record written — or its lease has surely ended."""
        found = (self._early.pop(batch_id, None) for batch_id in batch_ids)
        early = [e for e in found if e is not None]
        if state_keys:
            self._announced = max(self._announced, revision)
        if not (state_keys or early) or not (self._subscribers or self._gone):
            return
        everything = len(state_keys) > KEYS_PER_NOTICE_MAX
        written = frozenset(state_keys)
        waits = []
        now = self._clock()
        for subscriber in self._subscribers:
            resolves = [e.numbers[subscriber] for e in early if subscriber in e.numbers]
            if not state_keys and not resolves:
                continue
            subscriber.sent += 1
            subscriber.send(
                pb.RecordLeaseNotice(
                    invalidation=subscriber.sent,
                    revision=revision,
                    state_keys=() if everything else state_keys,
                    everything=everything,
                    resolves=resolves,
                )
            )
            if not state_keys or subscriber.lease_until <= now:
                continue
            named: set[bytes] = set()
            for e in early:
                if subscriber in e.numbers:
                    named |= e.keys
            # Acknowledging the early notices dropped (and holds) every record
            # written, when they named them all; else this notice's is needed.
            needed = max(resolves) if resolves and written <= named else subscriber.sent
            if subscriber.acked < needed:
                waits.append(self._acknowledged(subscriber, needed))
        for gone in self._gone:
            if gone.lease_until > now:
                waits.append(self._waited_out(gone))
        if waits:
            started = time.perf_counter()
            await asyncio.gather(*waits)
            metrics.RECORD_LEASE_WAIT_DURATION.observe(time.perf_counter() - started)

    async def _acknowledged(self, subscriber: Subscriber, number: int) -> None:
        # One waiter per subscriber at a time: the follower writes its
        # batches one after another.
        while subscriber.acked < number:
            left = subscriber.lease_until - self._clock()
            if left <= 0:
                if not subscriber.released:
                    metrics.RECORD_LEASE_WAITED_OUT.inc()
                return
            subscriber.acked_changed.clear()
            try:
                async with asyncio.timeout(left):
                    await subscriber.acked_changed.wait()
            except TimeoutError:
                continue

    async def _waited_out(self, subscriber: Subscriber) -> None:
        left = subscriber.lease_until - self._clock()
        if left > 0:
            metrics.RECORD_LEASE_WAITED_OUT.inc()
            await asyncio.sleep(left)
