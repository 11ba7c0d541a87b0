"""Replicas sharing one log (an in-memory etcd): group commit, apply in log
order, identical state everywhere, conditional writes decided at apply time,
read-index, stall recovery and a compacted log."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from metadata import follower as follower_module
from metadata import logformat
from metadata.follower import Follower
from metadata.mutations import CreateBucket, PutObject
from metadata.replicas import compaction_target
from metadata.shared_log import SharedLog
from metadata.state import StateMachine, open_db
from tessera import errors
from tessera.model import ObjectVersion
from tests.unit.metadata.fake_etcd import FakeEtcd

VersionFactory = Callable[..., ObjectVersion]
LOG_KEY = b"/t/meta/log"

pytestmark = pytest.mark.usefixtures("loop_watchdog")


@dataclasses.dataclass
class Replica:
    state: StateMachine
    log: SharedLog
    follower: Follower
    task: asyncio.Task[bool]


@pytest.fixture
async def etcd() -> FakeEtcd:
    return FakeEtcd()


@pytest.fixture
async def replicas(tmp_path: Path, etcd: FakeEtcd) -> AsyncIterator[list[Replica]]:
    async with AsyncExitStack() as stack:
        found = []
        for i in range(3):
            db = await asyncio.to_thread(open_db, str(tmp_path / f"r{i}"))
            stack.push_async_callback(asyncio.to_thread, db.close)
            writer = ThreadPoolExecutor(max_workers=1)
            stack.push_async_callback(asyncio.to_thread, writer.shutdown, True)
            state = StateMachine(db)
            log = SharedLog(etcd, LOG_KEY, f"r{i}", window_seconds=0.002)  # type: ignore[arg-type]
            follower = Follower(etcd, state, writer, LOG_KEY, log.on_applied)  # type: ignore[arg-type]
            log.follower = follower
            task = asyncio.create_task(follower.run())
            stack.push_async_callback(_cancel, task)
            await stack.enter_async_context(log)
            found.append(Replica(state, log, follower, task))
        yield found


async def _cancel(task: asyncio.Task[bool]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_concurrent_writes_through_every_replica_give_identical_state(
    replicas: list[Replica], etcd: FakeEtcd, make_version: VersionFactory
) -> None:
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    puts = [
        replicas[i % 3].log.submit(PutObject(f"p{i}", make_version("b", f"k{i % 7}")))
        for i in range(60)
    ]
    await asyncio.gather(*puts)
    assert etcd.puts < 61  # batched: fewer appends than mutations
    head = etcd.revision
    for r in replicas:
        await r.follower.wait_applied(head, timeout=5)
    digests = {tuple(r.state.items_for_digest()) for r in replicas}
    assert len(digests) == 1
    assert {logformat.revision_of(r.state.applied_position) for r in replicas} == {head}


async def test_conditional_writes_are_decided_once_in_log_order(
    replicas: list[Replica], make_version: VersionFactory
) -> None:
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    racers = [
        replicas[i].log.submit(
            PutObject(f"race{i}", make_version("b", "k", etag=f"e{i}"), if_none_match_star=True)
        )
        for i in range(3)
    ]
    results = await asyncio.gather(*racers, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert sum(isinstance(r, errors.PreconditionFailed) for r in results) == 2
    current = replicas[2].state.get_object("b", "k").etag
    with pytest.raises(errors.PreconditionFailed):
        await replicas[1].log.submit(
            PutObject("cas1", make_version("b", "k"), if_match_etag="not-" + current)
        )
    await replicas[1].log.submit(
        PutObject("cas2", make_version("b", "k", etag="next"), if_match_etag=current)
    )


async def test_a_request_appended_twice_is_applied_once(
    replicas: list[Replica], make_version: VersionFactory
) -> None:
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    first = make_version("b", "k", etag="one")
    second = make_version("b", "k", etag="two")
    await replicas[0].log.submit(PutObject("same-id", first))
    await replicas[0].log.submit(PutObject("later", second))
    # A retry of the first request (e.g. through another replica) lands after "later":
    replaced = await replicas[1].log.submit(PutObject("same-id", first))
    assert replaced is None  # the recorded outcome of the first attempt
    assert replicas[2].state.get_object("b", "k").etag == "two"


async def test_read_index_waits_for_what_was_committed_before(
    replicas: list[Replica], etcd: FakeEtcd, make_version: VersionFactory
) -> None:
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    await replicas[0].log.submit(PutObject("p", make_version("b", "k")))
    head = await replicas[2].follower.read_index(timeout=5)
    assert head == etcd.revision
    assert replicas[2].state.get_object("b", "k").key == "k"


async def test_an_append_that_fails_answers_service_unavailable(
    replicas: list[Replica], etcd: FakeEtcd
) -> None:
    etcd.unavailable = True
    with pytest.raises(errors.ServiceUnavailable):
        await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    with pytest.raises(errors.ServiceUnavailable):
        await replicas[0].follower.read_index(timeout=1)
    etcd.unavailable = False
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))


async def test_a_silent_watch_is_abandoned_for_another_member(
    replicas: list[Replica], etcd: FakeEtcd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follower_module, "STALL_SECONDS", 0.2)
    await replicas[0].log.submit(CreateBucket("c1", "b", "alice", 1.0))
    # Every watch through member "a" goes quiet (a member cut off from its peers).
    etcd.silent_endpoints.add("a")
    for r in replicas:
        r.task.cancel()
    await asyncio.gather(*(r.task for r in replicas), return_exceptions=True)
    etcd.preferred = 0
    restarted = [asyncio.create_task(r.follower.run()) for r in replicas]
    try:
        await replicas[0].log.submit(CreateBucket("c2", "b2", "alice", 1.0))
        head = etcd.revision
        for r in replicas:
            await r.follower.wait_applied(head, timeout=5)
        assert "a" in etcd.demoted
    finally:
        for task in restarted:
            task.cancel()
        await asyncio.gather(*restarted, return_exceptions=True)


async def test_a_replica_behind_the_compacted_log_stops_following(
    tmp_path: Path, etcd: FakeEtcd
) -> None:
    await etcd.put(LOG_KEY, logformat.encode("x.1", [CreateBucket("c", "b", "o", 1.0)]), timeout=1)
    await etcd.compact(etcd.revision, timeout=1)
    db = await asyncio.to_thread(open_db, str(tmp_path / "late"))
    writer = ThreadPoolExecutor(max_workers=1)
    try:
        follower = Follower(etcd, StateMachine(db), writer, LOG_KEY, lambda b, o: None)  # type: ignore[arg-type]
        assert await asyncio.wait_for(follower.run(), 5) is False
        assert follower.lost_log
    finally:
        writer.shutdown()
        db.close()


def test_compaction_target_is_behind_the_slowest_live_replica() -> None:
    assert compaction_target([], 0, 1) is None
    assert compaction_target([50, 30, 40], 0, 1) == 30
    assert compaction_target([50, 30, 40], 25, 10) is None  # not worth it yet
    assert compaction_target([50, 30, 40], 20, 10) == 30
    assert compaction_target([30], 30, 1) is None


def test_log_entries_round_trip_with_positions(make_version: VersionFactory) -> None:
    ms = [CreateBucket("c", "b", "o", 1.0), PutObject("p", make_version("b", "k"))]
    entry = logformat.decode(logformat.encode("r1.ab.7", ms))
    assert entry.batch_id == "r1.ab.7" and list(entry.mutations) == ms
    placed = logformat.log_entries(42, entry)
    assert [e.position for e in placed] == [42 * 4096, 42 * 4096 + 1]
    assert {logformat.revision_of(e.position) for e in placed} == {42}
    with pytest.raises(ValueError):
        logformat.decode(b'{"v":99,"batch":"x","m":[]}')


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.used = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.used += 1
        return super().submit(fn, *args, **kwargs)


async def test_a_few_mutations_are_applied_on_the_loop_a_long_run_on_the_writer_thread(
    tmp_path: Path, etcd: FakeEtcd, make_version: VersionFactory
) -> None:
    db = await asyncio.to_thread(open_db, str(tmp_path / "r"))
    writer = CountingExecutor()
    state = StateMachine(db)
    follower = Follower(etcd, state, writer, LOG_KEY, lambda b, o: None)  # type: ignore[arg-type]
    task = asyncio.create_task(follower.run())
    try:
        await etcd.put(
            LOG_KEY, logformat.encode("x.1", [CreateBucket("c", "b", "o", 1.0)]), timeout=1
        )
        await follower.wait_applied(etcd.revision, timeout=5)
        assert writer.used == 0  # one mutation: on the loop
        many = follower_module.APPLY_ON_LOOP_MUTATIONS_MAX + 1
        run = [PutObject(f"p{i}", make_version("b", f"k{i}")) for i in range(many)]
        await etcd.put(LOG_KEY, logformat.encode("x.2", run), timeout=1)
        await follower.wait_applied(etcd.revision, timeout=5)
        assert writer.used == 2  # apply_batch and commit, on the thread
        assert [state.get_object("b", f"k{i}").key for i in (0, many - 1)] == ["k0", f"k{many - 1}"]
    finally:
        await _cancel(task)
        writer.shutdown()
        db.close()
