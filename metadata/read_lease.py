"""Read leases: strong reads from a replica's applied state, without asking etcd.

Without a lease, a strong read (GET, HEAD, a listing page, a bucket lookup)
first learns the log's head from etcd with a linearizable range (the read
index) — about 0.9 ms of a 2.7 ms small GET here, and etcd CPU on every read
round. A replica holding the read lease answers from what it has applied.

Taking one: a replica appends a ReadLease mutation (its id, its address, the
duration D) through its own group commit, having noted its clock t0 just
before. Every replica learns of the lease when it applies that entry:

- every other replica: the lease may run until its own clock at apply time
  + D x CLOCK_RATE + CLOCK_MARGIN_SECONDS — never earlier than the holder's
  end, as long as clock rates differ by less than CLOCK_RATE (etcd's own
  leases assume as much);
- the holder: the lease runs until t0 + D, but it is exclusive, so it starts
  only once every other lease this replica has seen has surely ended. If its
  previous lease still runs and nobody else's does, it just extends it;
  otherwise it waits for the others to end, then takes a read index (its
  state then holds everything any earlier holder could have shown), and
  starts.

The rule that keeps every read linearizable: **a replica shows its state
(answers a write, or a read without holding the lease) only once every
other replica whose lease may still run has applied that state's revision,
or that lease has ended.** It asks each (WaitApplied RPC, bounded by the
lease's end) and waits out one that does not answer. A replica that
(re)started does not know the leases granted before it started, so it shows
nothing during its first D x CLOCK_RATE + CLOCK_MARGIN_SECONDS.

Why: a read R at holder L, under a lease taken with entry e, must see every
write W that was answered — and every state any read saw — before R began.
Say replica X showed a state at revision a >= w (W's entry) at time tA < tR.
- e before a in the log: X applied e before showing a, so L's lease had not
  ended by X's clock and X waited until L applied a. L applied W before R.
- e after a: L applies in log order and uses the lease only once it applied
  e, so it applied a first.
- L itself showed it: it applies in order, so it still has it.
- a reader without the lease (read index) shows only what the holder has.
Two holders never overlap, and a new holder's read index covers whatever an
earlier one showed. Everything a read sees was committed (the watch delivers
only committed entries), so R sits at the moment it reads, as with the read
index (docs/metadata.md, "Read leases" and "Linearizable reads").

A replica holds a lease while it serves strong reads: it asks for one as
soon as WANT_READS came within D x CHECK_SHARE, and keeps renewing it until
reads have come less often than that for LINGER_SECONDS. The replica that
held the last lease (no peer has taken one since) asks again after a lull
as soon as RETAKE_READS came within one look, without lingering on them: a
burst of reads after a quiet spell is back under the lease after two reads,
not after eight plus the append. A gateway sends all its calls to one
replica, so usually the holder is also the writer and nothing waits on
anyone.

Invariants: own_valid() is true only inside a lease that started after every
other lease this replica knew of ended; no write is answered, and no read is
answered without the lease, before each peer lease that may still run has
applied the revision shown; leases are learnt only from applied log entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from metadata import metrics
from metadata.client import MetadataClient
from metadata.commit import MutationLog
from metadata.mutations import ReadLease

log = logging.getLogger(__name__)

T = TypeVar("T")

CLOCK_RATE = 1.05  # clocks may run up to 5 % apart in rate
CLOCK_MARGIN_SECONDS = 0.05
RENEW_SHARE = 0.5  # renew once less than half of the lease is left
CHECK_SHARE = 0.2  # look at the reads and the lease this often (a share of D)
WANT_READS = 8  # strong reads between two looks that make a lease worth holding
RETAKE_READS = 2  # the same for the last holder after a lull (one lease, no linger)
LINGER_SECONDS = 10.0  # a lease is kept this long after reads last came that often
RENEW_TIMEOUT_SECONDS = 2.0

ReadIndex = Callable[[float], Awaitable[object]]  # (timeout): etcd's read index
AskApplied = Callable[[str, int, float], Awaitable[None]]  # (address, revision, timeout)


def peer_lease_end(applied_at: float, duration: float) -> float:
    """When a peer's lease, applied here at applied_at, has surely ended (pure)."""
    return applied_at + duration * CLOCK_RATE + CLOCK_MARGIN_SECONDS


@dataclass(frozen=True, slots=True)
class PeerLease:
    replica_id: str
    address: str
    ends_at: float  # by this replica's clock


class ReadLeases:
    """What this replica knows of every read lease (its own and its peers'), by its own clock."""

    def __init__(
        self,
        replica_id: str,
        address: str,
        duration_seconds: float,
        ask_applied: AskApplied,
        read_index: ReadIndex,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert duration_seconds > 0
        self.replica_id = replica_id
        self.address = address
        self.duration = duration_seconds
        self._ask_applied = ask_applied
        self._read_index = read_index
        self._clock = clock
        self._blind_until = peer_lease_end(clock(), duration_seconds)
        self._peers: dict[str, PeerLease] = {}
        self._own_until = 0.0
        self._held_last = False  # this replica's lease was the last to start; no peer's since
        self._asked: dict[str, float] = {}  # nonce of a grant in flight: clock before sending
        self._starting: set[asyncio.Task[None]] = set()
        self._reads = 0
        self._wanted_at = -math.inf
        self.wakeup = asyncio.Event()  # reads came often: take a lease now, not at the next look

    # ------------------------------------------------------------ learning

    def grant(self) -> ReadLease:
        """A ReadLease to append; its clock starts now."""
        nonce = os.urandom(8).hex()
        self._asked[nonce] = self._clock()
        return ReadLease(
            request_id="",
            replica_id=self.replica_id,
            address=self.address,
            duration_ms=round(self.duration * 1000),
            nonce=nonce,
        )

    def forget(self, lease: ReadLease) -> None:
        """A grant that will not be applied here (its append failed)."""
        self._asked.pop(lease.nonce, None)

    def applied(self, lease: ReadLease) -> None:
        """Called by the follower for every ReadLease it applies, in log order."""
        sent_at = (
            self._asked.pop(lease.nonce, None) if lease.replica_id == self.replica_id else None
        )
        if sent_at is None:
            # A peer's — or one under this replica's id that this run did not
            # send (an earlier run's, or another process misconfigured with
            # the same id): counted as a peer's, to be safe.
            ends_at = peer_lease_end(self._clock(), lease.duration_ms / 1000)
            known = self._peers.get(lease.replica_id)
            if known is None or known.ends_at < ends_at or known.address != lease.address:
                self._peers[lease.replica_id] = PeerLease(lease.replica_id, lease.address, ends_at)
            self._held_last = False
            return
        until = sent_at + lease.duration_ms / 1000
        if self.own_valid() and self._others_ended():
            self._own_until = max(self._own_until, until)  # one lease, extended
            return
        task = asyncio.get_running_loop().create_task(self._start(until))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _start(self, until: float) -> None:
        """Starts a lease that runs until `until`, once every other has ended
        and a read index has brought this replica's state up to the log."""
        try:
            while True:
                now = self._clock()
                busy = max((p.ends_at for p in self._peers.values()), default=0.0)
                if now >= until:
                    return
                if busy > now:
                    await asyncio.sleep(min(busy, until) - now)
                    continue
                if self.own_valid():
                    self._own_until = max(self._own_until, until)
                    return
                await self._read_index(until - now)
                if self._others_ended() and self._clock() < until:
                    self._own_until = until
                    self._held_last = True
                    return
        except Exception as exc:
            log.info("could not start a read lease: %s", exc)

    def _others_ended(self) -> bool:
        now = self._clock()
        return all(p.ends_at <= now for p in self._peers.values())

    async def close(self) -> None:
        for task in self._starting:
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)

    # ------------------------------------------------------------ reads

    def own_valid(self) -> bool:
        """Whether this replica holds the read lease now."""
        return self._clock() < self._own_until

    def own_remaining(self) -> float:
        """Seconds left of this replica's read lease (<= 0: none)."""
        return self._own_until - self._clock()

    def note_reads(self, count: int) -> None:
        """count strong reads answered elsewhere on this replica's behalf
        (a gateway's from its leased records): they keep the lease held."""
        for _ in range(count):
            self.note_read()

    def note_read(self) -> None:
        self._reads += 1
        if self._reads == WANT_READS:
            self._wanted_at = self._clock()
        if self._reads in (WANT_READS, self._retake_reads()) and self.renew_due():
            self.wakeup.set()

    def _retake_reads(self) -> int:
        return RETAKE_READS if self._held_last else WANT_READS

    def wanted(self) -> bool:
        """Whether reads came often enough (since the last call, or within
        LINGER_SECONDS) to hold a lease, or this replica held the last one
        and RETAKE_READS came since the last call; starts counting afresh."""
        reads, self._reads = self._reads, 0
        if reads >= WANT_READS:
            self._wanted_at = self._clock()
        if reads >= self._retake_reads():
            return True
        return self._clock() - self._wanted_at < LINGER_SECONDS

    def renew_due(self) -> bool:
        return self._own_until - self._clock() < self.duration * RENEW_SHARE

    # ------------------------------------------------------------ showing state

    def holders(self) -> list[PeerLease]:
        """The peers whose leases may still run (by this replica's clock)."""
        now = self._clock()
        return [p for p in self._peers.values() if p.ends_at > now]

    def settled_now(self) -> bool:
        """Whether any state may be shown now without waiting on anyone."""
        return self._clock() >= self._blind_until and self._others_ended()

    async def settle(self, revision: int) -> None:
        """Returns once every peer whose lease may still run applied revision,
        or its lease ended; and not before this replica knows every lease."""
        if self.settled_now():
            return
        waits = [self._settle_with(peer, revision) for peer in self.holders()]
        blind = self._blind_until - self._clock()
        if blind > 0:
            waits.append(asyncio.sleep(blind))
        started = time.perf_counter()
        await asyncio.gather(*waits)
        metrics.LEASE_WAIT_DURATION.observe(time.perf_counter() - started)

    async def _settle_with(self, peer: PeerLease, revision: int) -> None:
        left = peer.ends_at - self._clock()
        if left <= 0:
            return
        try:
            await self._ask_applied(peer.address, revision, left)
            return
        except Exception as exc:
            log.info("replica %s did not confirm revision %d: %s", peer.replica_id, revision, exc)
        metrics.LEASE_WAITED_OUT.inc()
        left = peer.ends_at - self._clock()
        if left > 0:
            await asyncio.sleep(left)


class StrongReads:
    """Strong reads on a replica: under the lease, or after the read index
    and with every peer lease holder caught up (see the module docstring)."""

    def __init__(
        self,
        read_index: ReadIndex,
        applied_revision: Callable[[], int],
        leases: ReadLeases | None,
    ) -> None:
        self._read_index = read_index
        self._applied_revision = applied_revision
        self._leases = leases

    async def run(self, read: Callable[[], Awaitable[T]], timeout: float) -> T:  # noqa: ASYNC109
        """read()'s result, linearizable."""
        leases = self._leases
        held = leases is not None and leases.own_valid()
        if leases is not None:
            leases.note_read()
        if held:
            metrics.STRONG_READS.labels("lease").inc()
        else:
            metrics.STRONG_READS.labels("read_index").inc()
            started = time.perf_counter()
            await self._read_index(timeout)
            metrics.READ_INDEX_DURATION.observe(time.perf_counter() - started)
        result = await read()
        if leases is not None and not (held and leases.own_valid()):
            await leases.settle(self._applied_revision())
        return result


async def keep_lease(leases: ReadLeases, log_: MutationLog) -> None:
    """Takes and renews this replica's read lease while it serves strong reads."""
    period = leases.duration * CHECK_SHARE
    asked_at = -math.inf
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period):
                    await leases.wakeup.wait()
            leases.wakeup.clear()
            if not leases.wanted() or not leases.renew_due():
                continue
            if time.monotonic() - asked_at < period:
                continue  # a grant went out just now (its lease may be waiting its turn)
            asked_at = time.monotonic()
            lease = leases.grant()
            try:
                async with asyncio.timeout(RENEW_TIMEOUT_SECONDS):
                    await log_.submit(lease)
            except Exception as exc:
                leases.forget(lease)
                log.info("could not take the read lease: %s", exc)
                metrics.LEASE_RENEWALS.labels("failed").inc()
            else:
                metrics.LEASE_RENEWALS.labels("ok").inc()
    finally:
        await leases.close()


class PeerClients:
    """One client per peer replica address, for WaitApplied."""

    def __init__(self, cluster_secret: str) -> None:
        self._secret = cluster_secret
        self._clients: dict[str, MetadataClient] = {}

    async def ask_applied(self, address: str, revision: int, timeout: float) -> None:  # noqa: ASYNC109
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = MetadataClient(address, self._secret)
        await client.wait_applied(revision, timeout=timeout)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
