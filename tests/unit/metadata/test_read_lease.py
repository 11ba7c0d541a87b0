"""Read leases (metadata/read_lease.py): who holds one, for how long by whose
clock, and what a write waits for before it is answered."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from metadata import metrics
from metadata.mutations import ReadLease
from metadata.read_lease import (
    CLOCK_MARGIN_SECONDS,
    CLOCK_RATE,
    LINGER_SECONDS,
    RETAKE_READS,
    WANT_READS,
    ReadLeases,
    StrongReads,
    keep_lease,
    peer_lease_end,
)

DURATION_SECONDS = 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Asked:
    """A peer's WaitApplied: records each question, answers or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int, float]] = []
        self.fail = fail

    async def __call__(self, address: str, revision: int, timeout: float) -> None:  # noqa: ASYNC109
        self.calls.append((address, revision, timeout))
        if self.fail:
            raise ConnectionError("peer down")


def peer_grant(replica_id: str = "r2", address: str = "127.0.0.1:2") -> ReadLease:
    return ReadLease("", replica_id, address, round(DURATION_SECONDS * 1000), "ffff")


class ReadIndex:
    """etcd's read index: counts the calls."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    async def __call__(self, timeout: float) -> object:  # noqa: ASYNC109
        self.timeouts.append(timeout)
        return 9


def leases(
    clock: Clock | None = None,
    asked: Asked | None = None,
    duration: float = DURATION_SECONDS,
    read_index: ReadIndex | None = None,
) -> ReadLeases:
    return ReadLeases(
        "r1",
        "127.0.0.1:1",
        duration,
        asked or Asked(),
        read_index or ReadIndex(),
        clock or time.monotonic,
    )


async def settle_tasks() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def holding(clock: Clock) -> ReadLeases:
    """Leases of a replica that has just taken its own lease (by clock)."""
    mine = leases(clock)
    mine.applied(mine.grant())
    await settle_tasks()
    assert mine.own_valid()
    return mine


async def test_own_lease_starts_after_a_read_index_and_runs_from_the_sending() -> None:
    clock = Clock()
    read_index = ReadIndex()
    mine = leases(clock, read_index=read_index)
    grant = mine.grant()
    assert not mine.own_valid()
    clock.now += 0.3  # the append and the apply take time
    mine.applied(grant)
    await settle_tasks()
    assert mine.own_valid()
    assert read_index.timeouts == [pytest.approx(DURATION_SECONDS - 0.3)]
    clock.now = 100.0 + DURATION_SECONDS - 0.001
    assert mine.own_valid()
    clock.now = 101.0
    renewal = mine.grant()
    clock.now += 0.5
    mine.applied(renewal)  # a running lease is extended, without a read index
    assert len(read_index.timeouts) == 1
    clock.now = 101.0 + DURATION_SECONDS - 0.001
    assert mine.own_valid()
    clock.now += 0.001
    assert not mine.own_valid()


async def test_own_lease_waits_until_every_other_lease_has_ended() -> None:
    mine = leases(duration=1.0)
    mine.applied(peer_grant())  # a peer's lease of 2 s: longer than ours
    mine.applied(mine.grant())
    await asyncio.sleep(0.1)  # well inside our 1 s window
    assert not mine.own_valid()  # it would overlap the peer's: it does not start
    await mine.close()
    short = leases(duration=1.0)  # ample room after the peer's 0.1 s lease
    short.applied(ReadLease("", "r2", "127.0.0.1:2", 100, "aaaa"))
    (other,) = short.holders()
    short.applied(short.grant())
    await asyncio.sleep(0.02)
    assert not short.own_valid()
    await asyncio.sleep(max(0.0, other.ends_at - time.monotonic()) + 0.02)
    assert short.own_valid()  # after the peer's end, within its own window


async def test_a_running_lease_is_not_extended_once_a_peer_took_one() -> None:
    clock = Clock()
    mine = await holding(clock)
    mine.applied(peer_grant())
    mine.applied(mine.grant())  # waits for the peer's lease to end
    clock.now = 100.0 + DURATION_SECONDS
    assert not mine.own_valid()
    await mine.close()


async def test_a_grant_this_run_did_not_send_is_not_its_lease() -> None:
    clock = Clock()
    mine = leases(clock)
    mine.applied(ReadLease("", "r1", "127.0.0.1:1", 2000, "from-before-a-restart"))
    await settle_tasks()
    assert not mine.own_valid()
    (other,) = mine.holders()  # counted as a peer's: whoever sent it may still use it
    assert other.replica_id == "r1"


async def test_a_forgotten_grant_never_starts_a_lease() -> None:
    clock = Clock()
    mine = leases(clock)
    grant = mine.grant()
    mine.forget(grant)  # the append failed, yet it may land later
    mine.applied(grant)
    await settle_tasks()
    assert not mine.own_valid()


def test_a_peer_lease_ends_later_here_than_at_its_holder() -> None:
    clock = Clock()
    mine = leases(clock)
    clock.now = 105.0
    mine.applied(peer_grant())
    (holder,) = mine.holders()
    assert holder.replica_id == "r2" and holder.address == "127.0.0.1:2"
    assert holder.ends_at == pytest.approx(
        105.0 + DURATION_SECONDS * CLOCK_RATE + CLOCK_MARGIN_SECONDS
    )
    assert holder.ends_at == peer_lease_end(105.0, DURATION_SECONDS)
    clock.now = holder.ends_at
    assert mine.holders() == []


def test_an_older_grant_applied_later_never_shortens_a_peer_lease() -> None:
    clock = Clock()
    mine = leases(clock)
    clock.now = 110.0
    mine.applied(peer_grant())
    ends = mine.holders()[0].ends_at
    short = ReadLease("", "r2", "127.0.0.1:2", 10, "eeee")
    mine.applied(short)
    assert mine.holders()[0].ends_at == ends


async def test_nothing_is_settled_while_blind_after_a_start_or_while_a_peer_holds() -> None:
    clock = Clock()
    mine = leases(clock)
    assert not mine.settled_now()  # leases granted before this start are unknown
    clock.now = peer_lease_end(100.0, DURATION_SECONDS)
    assert mine.settled_now()
    mine.applied(peer_grant())
    assert not mine.settled_now()
    clock.now = mine.holders()[0].ends_at
    assert mine.settled_now()
    mine.applied(mine.grant())  # its own lease never makes it wait
    await settle_tasks()
    assert mine.own_valid()
    assert mine.settled_now()


def test_a_lease_is_wanted_at_once_when_reads_come_and_for_a_while_after() -> None:
    clock = Clock()
    mine = leases(clock)
    for _ in range(WANT_READS - 1):
        mine.note_read()
    assert not mine.wakeup.is_set()
    assert not mine.wanted()
    for _ in range(WANT_READS):
        mine.note_read()
    assert mine.wakeup.is_set()  # the lease is asked for now, not at the next look
    assert mine.wanted()
    clock.now += LINGER_SECONDS - 0.1
    assert mine.wanted()  # no reads since, but not for long
    clock.now += 0.1
    assert not mine.wanted()


async def test_the_last_holder_takes_the_lease_back_after_a_few_reads_without_lingering() -> None:
    clock = Clock()
    mine = await holding(clock)
    clock.now += LINGER_SECONDS + DURATION_SECONDS  # a lull: the lease ended, the linger too
    assert not mine.own_valid()
    assert not mine.wanted()
    assert RETAKE_READS < WANT_READS
    for _ in range(RETAKE_READS - 1):
        mine.note_read()
    assert not mine.wakeup.is_set()
    mine.note_read()
    assert mine.wakeup.is_set()  # RETAKE_READS, not WANT_READS: asked for at once
    assert mine.wanted()
    clock.now += 0.4
    assert not mine.wanted()  # no linger on a retake: no reads since, no more renewals


async def test_a_replica_whose_lease_a_peer_followed_waits_for_the_usual_reads() -> None:
    clock = Clock()
    mine = await holding(clock)
    mine.applied(peer_grant())  # a peer took the lease after ours
    clock.now += LINGER_SECONDS + DURATION_SECONDS
    for _ in range(WANT_READS - 1):
        mine.note_read()
    assert not mine.wakeup.is_set()
    assert not mine.wanted()  # a few reads here must not contest the peer's lease


class Log:
    """A MutationLog that applies each ReadLease at once, as the follower would."""

    def __init__(self, leases: ReadLeases) -> None:
        self.leases = leases
        self.submitted: list[ReadLease] = []

    async def submit(self, mutation: object) -> None:
        assert isinstance(mutation, ReadLease)
        self.submitted.append(mutation)
        self.leases.applied(mutation)


async def test_keep_lease_takes_a_lease_as_soon_as_reads_come() -> None:
    mine = leases(duration=10.0)  # looks every 2 s: the lease must come from the wakeup
    log_ = Log(mine)
    keeper = asyncio.create_task(keep_lease(mine, log_))
    try:
        await asyncio.sleep(0.05)
        assert log_.submitted == []  # no reads, no lease
        for _ in range(WANT_READS):
            mine.note_read()
        for _ in range(150):  # well under the 2 s look
            await asyncio.sleep(0.01)
            if mine.own_valid():
                break
        assert mine.own_valid()
        assert len(log_.submitted) == 1
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper


async def test_settle_asks_each_holding_peer_for_the_revision() -> None:
    asked = Asked()
    mine = leases(duration=0.05, asked=asked)
    await asyncio.sleep(peer_lease_end(0, 0.05))  # past the blind start
    mine.applied(peer_grant("r2", "127.0.0.1:2"))
    mine.applied(peer_grant("r3", "127.0.0.1:3"))
    waited_out = metrics.LEASE_WAITED_OUT._value.get()
    await mine.settle(42)
    assert metrics.LEASE_WAITED_OUT._value.get() == waited_out  # they answered: none waited out
    assert sorted((a, r) for a, r, _ in asked.calls) == [("127.0.0.1:2", 42), ("127.0.0.1:3", 42)]
    assert all(0 < timeout <= 2.2 for _, _, timeout in asked.calls)


async def test_settle_waits_out_a_peer_that_does_not_confirm() -> None:
    mine = leases(duration=0.2, asked=Asked(fail=True))
    await asyncio.sleep(peer_lease_end(0, 0.2))
    mine.applied(peer_grant())
    (holder,) = mine.holders()
    await mine.settle(7)
    assert time.monotonic() >= holder.ends_at
    assert mine.settled_now()


async def test_settle_waits_out_the_blind_start() -> None:
    asked = Asked()
    mine = leases(duration=0.2, asked=asked)
    started = time.monotonic()
    await mine.settle(3)
    assert time.monotonic() - started >= 0.2 * CLOCK_RATE
    assert asked.calls == []


async def test_strong_reads_skip_the_read_index_only_under_the_lease() -> None:
    clock = Clock()
    read_index = ReadIndex()
    asked = Asked()
    mine = leases(clock, asked=asked, read_index=read_index)
    reads = StrongReads(read_index, lambda: 12, mine)
    clock.now = peer_lease_end(100.0, DURATION_SECONDS)  # past the blind start

    async def read() -> str:
        return "state"

    assert await reads.run(read, 1.0) == "state"
    assert read_index.timeouts == [1.0]
    mine.applied(mine.grant())
    await settle_tasks()
    assert len(read_index.timeouts) == 2  # the lease's own, at its start
    assert await reads.run(read, 1.0) == "state"
    assert len(read_index.timeouts) == 2  # served under the lease
    clock.now += DURATION_SECONDS
    await reads.run(read, 2.0)
    assert read_index.timeouts[-1] == 2.0
    assert asked.calls == []


async def test_a_read_without_the_lease_waits_for_the_holder_to_catch_up() -> None:
    read_index = ReadIndex()
    asked = Asked()
    mine = leases(duration=0.05, asked=asked, read_index=read_index)
    await asyncio.sleep(peer_lease_end(0, 0.05))
    mine.applied(peer_grant("r2", "127.0.0.1:2"))
    reads = StrongReads(read_index, lambda: 31, mine)

    async def read() -> str:
        return "state"

    assert await reads.run(read, 1.0) == "state"
    assert read_index.timeouts == [1.0]
    assert [(a, r) for a, r, _ in asked.calls] == [("127.0.0.1:2", 31)]
