"""The lifecycle worker on a real state machine and commit log (no cluster):
what it deletes, what its guards keep, and that it acts only as leader."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from metadata.commit import CommitLog
from metadata.lifecycle import LifecycleWorker
from metadata.mutations import (
    CreateMultipartUpload,
    DeleteObject,
    PutBucketVersioning,
    PutObject,
    SetBucketAccess,
)
from metadata.state import StateMachine
from tessera import errors
from tessera.lifecycle import Rule, RuleFilter, rules_to_json
from tessera.model import MultipartUpload, ObjectVersion
from tests.unit.metadata.test_state import create

VersionFactory = Callable[..., ObjectVersion]
DAY = 10.0  # a scaled lifecycle day
T0 = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def log(state: StateMachine) -> AsyncIterator[CommitLog]:
    async with CommitLog(state, window_seconds=0.0) as commit_log:
        yield commit_log


@pytest.fixture
def reads() -> AsyncIterator[ThreadPoolExecutor]:  # type: ignore[misc]
    pool = ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown()


async def _no_wait(timeout: float) -> None:  # noqa: ASYNC109
    return None


def worker(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
    clock: Clock,
    leader: list[bool] | None = None,
) -> LifecycleWorker:
    flag = leader if leader is not None else [True]
    return LifecycleWorker(
        state=state,
        mutation_log=log,
        consistent=_no_wait,
        reads=reads,
        is_leader=lambda: flag[0],
        day_seconds=DAY,
        interval_seconds=1.0,
        actions_per_second=1000.0,
        clock=clock,
    )


async def rules(log: CommitLog, *given: Rule) -> None:
    await log.submit(SetBucketAccess("lc", "b", "lifecycle", rules_to_json(list(given))))


def rule(**fields: object) -> Rule:
    values: dict[str, object] = {"rule_id": "r", "enabled": True, "filter": RuleFilter()}
    values.update(fields)
    return Rule(**values)  # type: ignore[arg-type]


async def put(log: CommitLog, make: VersionFactory, key: str, at: float, n: int) -> ObjectVersion:
    version = make("b", key, version_id=f"{n:026d}", last_modified=at)
    await log.submit(PutObject(f"put-{key}-{n}", version))
    return version


async def test_unversioned_objects_expire_by_prefix(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
    make_version: VersionFactory,
) -> None:
    await log.submit(create("b"))
    await rules(log, rule(filter=RuleFilter(prefix="tmp/"), expiration_days=1))
    for i in range(5):
        await put(log, make_version, f"tmp/{i}", T0, i)
    await put(log, make_version, "keep", T0, 9)
    clock = Clock()
    w = worker(state, log, reads, clock)
    assert await w.run_once() == 0
    clock.now = T0 + DAY
    assert await w.run_once() == 5
    assert [o.key for o in state.list_objects("b", "", "", "", 100).objects] == ["keep"]


async def test_versioned_expiry_adds_markers_then_noncurrent_go(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
    make_version: VersionFactory,
) -> None:
    await log.submit(create("b"))
    await log.submit(PutBucketVersioning("v", "b", "Enabled"))
    await rules(
        log,
        rule(expiration_days=1, noncurrent_days=1),
        rule(rule_id="m", expired_object_delete_marker=True),
    )
    await put(log, make_version, "k", T0, 1)
    clock = Clock()
    w = worker(state, log, reads, clock)
    clock.now = T0 + DAY
    assert await w.run_once() == 1  # a delete marker on top of v1
    newest = state.get_object_version("b", "k", "")
    assert newest.delete_marker
    clock.now = newest.last_modified + 2 * DAY
    assert await w.run_once() == 1  # v1, noncurrent for a day, is removed
    assert await w.run_once() == 1  # then the lone marker
    assert state.versions_of("b", "k") == []
    assert w.actions == {"expire_current": 1, "delete_noncurrent": 1, "delete_expired_marker": 1}


async def test_many_keys_across_pages(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
    make_version: VersionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("metadata.lifecycle.PAGE_RECORDS", 3)
    await log.submit(create("b"))
    await log.submit(PutBucketVersioning("v", "b", "Enabled"))
    await rules(log, rule(noncurrent_days=1, newer_noncurrent_versions=1))
    n = 0
    for key in ("a", "b", "c"):
        for i in range(4):  # 4 versions each: 3 noncurrent; the newest noncurrent is kept
            n += 1
            await put(log, make_version, key, T0 + i, n)
    clock = Clock()
    clock.now = T0 + 5 * DAY
    assert await worker(state, log, reads, clock).run_once() == 6
    for key in ("a", "b", "c"):
        assert len(state.versions_of("b", key)) == 2


async def test_guards_keep_what_changed_since_the_read(
    state: StateMachine, log: CommitLog, make_version: VersionFactory
) -> None:
    await log.submit(create("b"))
    await log.submit(PutBucketVersioning("v", "b", "Enabled"))
    v1 = await put(log, make_version, "k", T0, 1)
    v2 = await put(log, make_version, "k", T0 + 1, 2)
    # a marker judged on v1 being newest is refused now that v2 is
    with pytest.raises(errors.PreconditionFailed):
        await log.submit(
            DeleteObject(
                "g1", "b", "k", marker_version_id="9" * 26, if_newest_version_id=v1.version_id
            )
        )
    # deleting v2 as "noncurrent" is refused: it is the newest
    with pytest.raises(errors.PreconditionFailed):
        await log.submit(DeleteObject("g2", "b", "k", version_id=v2.version_id, if_not_newest=True))
    await log.submit(DeleteObject("g3", "b", "k", version_id=v1.version_id, if_not_newest=True))
    assert [v.version_id for v in state.versions_of("b", "k")] == [v2.version_id]


async def test_uploads_are_aborted_and_only_the_leader_acts(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
) -> None:
    await log.submit(create("b"))
    await rules(log, rule(abort_upload_days=2))
    for i in range(3):
        upload = MultipartUpload("b", f"u{i}", f"{i:026d}", T0, "alice", "text/plain")
        await log.submit(CreateMultipartUpload(f"cmu{i}", upload))
    clock = Clock()
    clock.now = T0 + 2 * DAY
    leader = [False]
    w = worker(state, log, reads, clock, leader)
    assert await w.run_once() == 0  # a replica that does not lead leaves them
    assert len(state.list_uploads("b", "", "", "", "", 100).uploads) == 3
    leader[0] = True
    assert await w.run_once() == 3
    assert state.list_uploads("b", "", "", "", "", 100).uploads == ()


async def test_suspended_bucket_expiry_replaces_the_null_version(
    state: StateMachine,
    log: CommitLog,
    reads: ThreadPoolExecutor,
    make_version: VersionFactory,
) -> None:
    await log.submit(create("b"))
    await log.submit(PutBucketVersioning("v", "b", "Enabled"))
    kept = await put(log, make_version, "k", T0, 1)  # a real version, noncurrent later
    await log.submit(PutBucketVersioning("s", "b", "Suspended"))
    await put(log, make_version, "k", T0 + 1, 2)  # the null version
    await rules(log, rule(expiration_days=1))
    clock = Clock()
    clock.now = T0 + 2 * DAY
    assert await worker(state, log, reads, clock).run_once() == 1
    records = state.versions_of("b", "k")
    # S3: a null delete marker takes the null version's place; v1 stays.
    assert [(r.s3_version_id, r.delete_marker) for r in records] == [
        ("null", True),
        (kept.version_id, False),
    ]
