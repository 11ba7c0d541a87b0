"""Multipart uploads in the state machine: parts, completion (segments, no
copy, atomic cleanup, retries), abort, and the two listings."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from metadata.mutations import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateBucket,
    CreateMultipartUpload,
    DeleteBucket,
    LogEntry,
    Mutation,
    PutObject,
    PutPart,
)
from metadata.outcome import Outcome
from metadata.state import StateMachine
from metadata.uploads import completed_record_id
from tessera import errors
from tessera.model import (
    CompletedUpload,
    MultipartUpload,
    ObjectVersion,
    PartsReleased,
    Segment,
    ShardLocation,
)
from tessera.multipart import ListedPart, multipart_etag

MIN = 100  # part_size_min_bytes in these tests
_ids = itertools.count()


def uid() -> str:
    return f"{next(_ids):026d}"


def run(state: StateMachine, *batch: Mutation) -> list[Outcome]:
    first = state.applied_position + 1
    applied = state.apply_batch([LogEntry(first + i, m) for i, m in enumerate(batch)])
    state.commit(applied)
    return applied.outcomes


def one(state: StateMachine, mutation: Mutation) -> object:
    return run(state, mutation)[0].unwrap()


def rid() -> str:
    return f"r{next(_ids)}"


def upload(key: str = "k", bucket: str = "b", upload_id: str = "") -> MultipartUpload:
    return MultipartUpload(
        bucket=bucket,
        key=key,
        upload_id=upload_id or uid(),
        initiated=1.0,
        owner="alice",
        content_type="text/plain",
        user_metadata={"a": "1"},
    )


def segment(number: int, size: int = MIN, tag: bytes = b"") -> Segment:
    return Segment(
        shard_set_id=uid(),
        part_number=number,
        size_bytes=size,
        etag=hashlib.md5(tag or str(number).encode()).hexdigest(),
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=64,
        placement=(ShardLocation(0, "n1"), ShardLocation(1, "n2"), ShardLocation(2, "n3")),
    )


def complete(u: MultipartUpload, parts: list[Segment], **kw: object) -> CompleteMultipartUpload:
    return CompleteMultipartUpload(
        request_id=str(kw.pop("request_id", rid())),
        bucket=u.bucket,
        key=u.key,
        upload_id=u.upload_id,
        parts=tuple(ListedPart(p.part_number, f'"{p.etag}"') for p in parts),
        version_id=str(kw.pop("version_id", uid())),
        last_modified=5.0,
        part_size_min_bytes=MIN,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def started(state: StateMachine) -> MultipartUpload:
    one(state, CreateBucket("cb", "b", "alice", 1.0))
    u = upload()
    assert one(state, CreateMultipartUpload(rid(), u)) == u
    return u


def put(state: StateMachine, u: MultipartUpload, part: Segment) -> object:
    return one(state, PutPart(rid(), u.bucket, u.key, u.upload_id, part))


def test_parts_are_recorded_and_replaced(state: StateMachine, started: MultipartUpload) -> None:
    first = segment(1)
    assert put(state, started, first) is None
    second = segment(1, tag=b"again")
    assert put(state, started, second) == first  # the replaced part, for reclaim
    page = state.list_parts("b", "k", started.upload_id, 0, 1000)
    assert page.parts == (second,) and page.upload == started
    with pytest.raises(errors.NoSuchUpload):
        put(state, upload(upload_id=uid()), segment(1))
    with pytest.raises(errors.NoSuchUpload):  # same id, another key
        put(state, upload(key="other", upload_id=started.upload_id), segment(1))


def test_complete_makes_segments_and_removes_the_upload(
    state: StateMachine, started: MultipartUpload
) -> None:
    parts = [segment(1), segment(2), segment(3, size=5), segment(4, size=7)]
    for p in parts:
        put(state, started, p)
    version_id = uid()
    chosen = [parts[0], parts[1], parts[3]]
    done = one(state, complete(started, chosen, version_id=version_id))
    assert isinstance(done, CompletedUpload)
    assert done.replaced is None and done.unreferenced == (parts[2],)
    version = state.get_object("b", "k")
    assert version == done.version
    assert version.version_id == version_id and version.segments == tuple(chosen)
    assert version.size_bytes == 2 * MIN + 7
    assert version.etag == multipart_etag([p.etag for p in chosen])
    assert version.placement == () and version.user_metadata == {"a": "1"}
    assert version.content_type == "text/plain"
    with pytest.raises(errors.NoSuchUpload):
        state.get_upload("b", "k", started.upload_id)
    assert not any(k.startswith(b"p/") or k.startswith(b"u/") for k, _ in state.items_for_digest())


def test_complete_errors_leave_the_upload(state: StateMachine, started: MultipartUpload) -> None:
    small, last = segment(1, size=MIN - 1), segment(2)
    put(state, started, small)
    put(state, started, last)
    outcomes = run(
        state,
        complete(started, [small, last]),
        complete(started, [last, small]),
        complete(started, [small, segment(2, tag=b"other")]),
    )
    assert [o.error_code for o in outcomes] == ["EntityTooSmall", "InvalidPartOrder", "InvalidPart"]
    assert state.get_upload("b", "k", started.upload_id) == started
    one(state, complete(started, [small]))  # the last part may be small


def test_conditional_complete(state: StateMachine, started: MultipartUpload) -> None:
    p = segment(1)
    put(state, started, p)
    existing = ObjectVersion(
        bucket="b",
        key="k",
        version_id=uid(),
        size_bytes=1,
        etag="e" * 32,
        content_type="t",
        last_modified=1.0,
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=64,
        placement=(ShardLocation(0, "n1"),),
    )
    one(state, PutObject(rid(), existing))
    outcomes = run(
        state,
        complete(started, [p], if_none_match_star=True),
        complete(started, [p], if_match_etag='"nope"'),
    )
    assert [o.error_code for o in outcomes] == ["PreconditionFailed", "PreconditionFailed"]
    done = one(state, complete(started, [p], if_match_etag=f'"{existing.etag}"'))
    assert isinstance(done, CompletedUpload) and done.replaced == existing


def test_completing_again(state: StateMachine, started: MultipartUpload) -> None:
    p = segment(1)
    put(state, started, p)
    first = complete(started, [p], request_id="same")
    done = one(state, first)
    assert isinstance(done, CompletedUpload)
    assert one(state, first) == done  # the same request: the recorded outcome
    again = one(state, complete(started, [p]))  # a new request listing the same parts
    assert isinstance(again, CompletedUpload)
    assert again.version == done.version and again.replaced is None and not again.unreferenced
    with pytest.raises(errors.NoSuchUpload):
        one(state, complete(started, [segment(1, tag=b"other")]))  # other parts
    assert state.request_outcome(completed_record_id(started.upload_id)) is not None


def test_abort_returns_the_parts(state: StateMachine, started: MultipartUpload) -> None:
    parts = [segment(1), segment(2)]
    for p in parts:
        put(state, started, p)
    released = one(state, AbortMultipartUpload(rid(), "b", "k", started.upload_id))
    assert released == PartsReleased(tuple(parts))
    with pytest.raises(errors.NoSuchUpload):
        one(state, AbortMultipartUpload(rid(), "b", "k", started.upload_id))
    with pytest.raises(errors.NoSuchUpload):
        one(state, complete(started, parts))


def test_part_and_complete_in_one_batch(state: StateMachine, started: MultipartUpload) -> None:
    p = segment(1)
    outcomes = run(state, PutPart(rid(), "b", "k", started.upload_id, p), complete(started, [p]))
    assert [o.ok for o in outcomes] == [True, True]
    assert state.get_object("b", "k").segments == (p,)


def test_a_bucket_with_uploads_is_not_empty(state: StateMachine, started: MultipartUpload) -> None:
    with pytest.raises(errors.BucketNotEmpty):
        one(state, DeleteBucket(rid(), "b"))
    one(state, AbortMultipartUpload(rid(), "b", "k", started.upload_id))
    one(state, DeleteBucket(rid(), "b"))


def test_list_parts_pages(state: StateMachine, started: MultipartUpload) -> None:
    parts = [segment(n) for n in (1, 2, 5, 9, 10000)]
    for p in parts:
        put(state, started, p)
    page = state.list_parts("b", "k", started.upload_id, 0, 2)
    assert page.parts == tuple(parts[:2]) and page.is_truncated
    page = state.list_parts("b", "k", started.upload_id, 2, 2)
    assert page.parts == tuple(parts[2:4]) and page.is_truncated
    page = state.list_parts("b", "k", started.upload_id, 9, 2)
    assert page.parts == (parts[4],) and not page.is_truncated
    assert state.list_parts("b", "k", started.upload_id, 10000, 2).parts == ()


def test_list_uploads(state: StateMachine) -> None:
    one(state, CreateBucket("cb", "b", "alice", 1.0))
    made = []
    for key in ["a", "a", "b/1", "b/2", "c", "d/x"]:
        u = upload(key)
        one(state, CreateMultipartUpload(rid(), u))
        made.append(u)

    def listing(**kw: object) -> tuple[list[tuple[str, str]], list[str], bool]:
        args = {"prefix": "", "delimiter": "", "key_marker": "", "upload_id_marker": ""}
        args.update(kw)  # type: ignore[arg-type]
        page = state.list_uploads("b", max_uploads=int(args.pop("max", 1000)), **args)  # type: ignore[arg-type]
        return (
            [(u.key, u.upload_id) for u in page.uploads],
            list(page.common_prefixes),
            page.is_truncated,
        )

    everything = [(u.key, u.upload_id) for u in made]
    assert listing() == (everything, [], False)
    assert listing(max=2) == (everything[:2], [], True)
    assert listing(key_marker="a") == (everything[2:], [], False)
    assert listing(key_marker="a", upload_id_marker=made[0].upload_id) == (
        everything[1:],
        [],
        False,
    )
    assert listing(delimiter="/") == (
        [everything[0], everything[1], everything[4]],
        ["b/", "d/"],
        False,
    )
    assert listing(delimiter="/", key_marker="b/") == ([everything[4]], ["d/"], False)
    assert listing(delimiter="/", max=3) == (everything[:2], ["b/"], True)
    assert listing(prefix="b/") == (everything[2:4], [], False)
    with pytest.raises(errors.NoSuchBucket):
        state.list_uploads("nope", "", "", "", "", 10)
