"""Group commit: ordering, batching, idempotency, failures and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from rocksdict import Rdict

from metadata.commit import CommitLog
from metadata.mutations import CreateBucket, DeleteBucket, PutObject
from metadata.state import AppliedBatch, StateMachine
from tessera import errors
from tessera.model import BucketInfo, ObjectVersion

VersionFactory = Callable[..., ObjectVersion]

pytestmark = pytest.mark.usefixtures("loop_watchdog")


class CountingState(StateMachine):
    """Records the size of every batch written."""

    def __init__(self, db: Rdict) -> None:
        super().__init__(db)
        self.batches: list[int] = []

    def commit(self, applied: AppliedBatch) -> None:
        super().commit(applied)
        self.batches.append(len(applied.outcomes))


@pytest.fixture
def counting(db: Rdict) -> CountingState:
    return CountingState(db)


@pytest.fixture
async def commit_log(counting: CountingState) -> AsyncIterator[CommitLog]:
    async with CommitLog(counting, window_seconds=0.005) as log:
        yield log


def create(name: str, rid: str = "", owner: str = "alice") -> CreateBucket:
    return CreateBucket(rid or f"c-{name}", name, owner, 1.0)


async def test_concurrent_mutations_share_a_batch_in_submission_order(
    commit_log: CommitLog, counting: CountingState, make_version: VersionFactory
) -> None:
    versions = [make_version("b", "k", size_bytes=i) for i in range(50)]
    results = await asyncio.gather(
        commit_log.submit(create("b")),
        *(commit_log.submit(PutObject(f"p{i}", v)) for i, v in enumerate(versions)),
    )
    assert results[1] is None
    assert results[2:] == versions[:-1]  # each put replaced the one submitted before it
    assert counting.get_object("b", "k") == versions[-1]
    assert sum(counting.batches) == 51
    assert len(counting.batches) < 51


async def test_errors_reach_their_own_caller_only(commit_log: CommitLog) -> None:
    results = await asyncio.gather(
        commit_log.submit(create("b")),
        commit_log.submit(create("b", rid="again")),
        commit_log.submit(create("b", rid="other", owner="bob")),
        commit_log.submit(DeleteBucket("d1", "missing")),
        return_exceptions=True,
    )
    assert isinstance(results[0], BucketInfo)
    assert [type(r) for r in results[1:]] == [
        errors.BucketAlreadyOwnedByYou,
        errors.BucketAlreadyExists,
        errors.NoSuchBucket,
    ]


async def test_a_retried_request_id_is_applied_once(
    commit_log: CommitLog, counting: CountingState, make_version: VersionFactory
) -> None:
    await commit_log.submit(create("b"))
    first, second = make_version("b", "k"), make_version("b", "k")
    await commit_log.submit(PutObject("p1", first))
    assert await commit_log.submit(PutObject("p2", second)) == first
    # The retry gets the recorded result (first), not "replaced second".
    retries = await asyncio.gather(*(commit_log.submit(PutObject("p2", second)) for _ in range(5)))
    assert retries == [first] * 5
    assert await commit_log.submit(create("b")) is not None  # recorded success, not an error


async def test_a_cancelled_caller_still_gets_its_mutation_applied(
    commit_log: CommitLog, counting: CountingState
) -> None:
    task = asyncio.create_task(commit_log.submit(create("b")))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await commit_log.submit(create("sync-point"))
    assert counting.get_bucket("b").name == "b"


async def test_a_failed_write_fails_its_batch_and_the_log_recovers(
    commit_log: CommitLog, counting: CountingState, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(applied: AppliedBatch) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(counting, "commit", broken)
    results = await asyncio.gather(
        commit_log.submit(create("a")), commit_log.submit(create("b")), return_exceptions=True
    )
    assert all(isinstance(r, errors.ServiceUnavailable) for r in results)
    monkeypatch.undo()
    assert (await commit_log.submit(create("a"))) is not None
    with pytest.raises(errors.NoSuchBucket):
        counting.get_bucket("b")


async def test_a_failed_apply_is_an_internal_error(
    commit_log: CommitLog, counting: CountingState, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: object) -> AppliedBatch:
        raise RuntimeError("bug")

    monkeypatch.setattr(counting, "apply_batch", broken)
    with pytest.raises(errors.InternalError):
        await commit_log.submit(create("a"))


async def test_close_commits_what_was_queued_then_refuses(counting: CountingState) -> None:
    log = CommitLog(counting, window_seconds=0.05)
    log.start()
    pending = [asyncio.create_task(log.submit(create(f"b{i}"))) for i in range(20)]
    await asyncio.sleep(0)
    await log.close()
    assert all(t.done() and t.exception() is None for t in pending)
    assert len(counting.list_buckets()) == 20
    with pytest.raises(errors.ServiceUnavailable):
        await log.submit(create("late"))


async def test_submit_before_start_is_refused(counting: CountingState) -> None:
    log = CommitLog(counting, window_seconds=0.0)
    with pytest.raises(errors.ServiceUnavailable):
        await log.submit(create("b"))
    await log.close()
