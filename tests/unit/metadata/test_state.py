"""The state machine on a temporary rocksdict: outcomes, batches, idempotency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rocksdict import Rdict

from metadata import keys
from metadata.mutations import (
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    LogEntry,
    Mutation,
    PutObject,
    ReadLease,
    RegisterNode,
    SetBucketAccess,
)
from metadata.outcome import Outcome
from metadata.state import StateMachine, open_db
from proto import convert
from tessera import errors
from tessera.model import (
    NODE_DRAINING,
    BucketInfo,
    NodeInfo,
    ObjectVersion,
    bucket_fingerprint,
    bucket_from_json,
    record_to_json,
)

VersionFactory = Callable[..., ObjectVersion]


def run(state: StateMachine, *batch: Mutation) -> list[Outcome]:
    """Applies one batch at the next positions and writes it."""
    first = state.applied_position + 1
    applied = state.apply_batch([LogEntry(first + i, m) for i, m in enumerate(batch)])
    state.commit(applied)
    return applied.outcomes


def one(state: StateMachine, mutation: Mutation) -> object:
    return run(state, mutation)[0].unwrap()


def create(name: str, owner: str = "alice", rid: str = "") -> CreateBucket:
    return CreateBucket(
        request_id=rid or f"create-{name}-{owner}",
        name=name,
        owner=owner,
        created_at=1_700_000_000.0,
    )


def codes(outcomes: Sequence[Outcome]) -> list[str]:
    return [o.error_code or "ok" for o in outcomes]


def test_create_and_get_bucket(state: StateMachine) -> None:
    created = one(state, create("photos"))
    assert created == BucketInfo("photos", "alice", 1_700_000_000.0)
    assert state.get_bucket("photos") == created
    with pytest.raises(errors.NoSuchBucket):
        state.get_bucket("other")


def test_recreate_bucket_same_owner_or_other_owner(state: StateMachine) -> None:
    one(state, create("photos"))
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        one(state, create("photos", rid="again"))
    with pytest.raises(errors.BucketAlreadyExists):
        one(state, create("photos", owner="bob"))


def test_list_buckets_by_owner_in_name_order(state: StateMachine) -> None:
    run(state, create("zeta"), create("alpha", owner="bob"), create("beta"))
    assert [b.name for b in state.list_buckets()] == ["alpha", "beta", "zeta"]
    assert [b.name for b in state.list_buckets("alice")] == ["beta", "zeta"]
    assert state.list_buckets("carol") == []


def test_put_into_missing_bucket(state: StateMachine, make_version: VersionFactory) -> None:
    with pytest.raises(errors.NoSuchBucket):
        one(state, PutObject("p1", make_version("nope", "k")))


def test_put_returns_the_replaced_version(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    first, second = make_version("b", "k"), make_version("b", "k", size_bytes=99)
    assert one(state, PutObject("p1", first)) is None
    assert one(state, PutObject("p2", second)) == first
    assert state.get_object("b", "k") == second


def test_get_object_errors(state: StateMachine) -> None:
    with pytest.raises(errors.NoSuchBucket):
        state.get_object("b", "k")
    one(state, create("b"))
    with pytest.raises(errors.NoSuchKey):
        state.get_object("b", "k")


def test_delete_object(state: StateMachine, make_version: VersionFactory) -> None:
    one(state, create("b"))
    version = make_version("b", "k")
    one(state, PutObject("p1", version))
    assert one(state, DeleteObject("d1", "b", "k")) == version
    assert one(state, DeleteObject("d2", "b", "k")) is None
    with pytest.raises(errors.NoSuchKey):
        state.get_object("b", "k")
    with pytest.raises(errors.NoSuchBucket):
        one(state, DeleteObject("d3", "nope", "k"))


def test_delete_bucket_only_when_empty(state: StateMachine, make_version: VersionFactory) -> None:
    with pytest.raises(errors.NoSuchBucket):
        one(state, DeleteBucket("x", "b"))
    run(state, create("b"), create("b-other"), PutObject("p", make_version("b-other", "k")))
    # Another bucket's objects (sharing the name prefix) do not count.
    assert one(state, DeleteBucket("d1", "b")) is None
    one(state, create("b", rid="again"))
    one(state, PutObject("p2", make_version("b", "k")))
    with pytest.raises(errors.BucketNotEmpty):
        one(state, DeleteBucket("d2", "b"))
    one(state, DeleteObject("d3", "b", "k"))
    one(state, DeleteBucket("d4", "b"))
    assert state.list_buckets() == [state.get_bucket("b-other")]


def test_mutations_in_one_batch_see_each_other(
    state: StateMachine, make_version: VersionFactory
) -> None:
    v1, v2 = make_version("b", "k"), make_version("b", "k")
    outcomes = run(
        state,
        create("b"),
        PutObject("p1", v1),
        PutObject("p2", v2),
        DeleteBucket("d1", "b"),
        DeleteObject("d2", "b", "k"),
        DeleteBucket("d3", "b"),
        PutObject("p3", make_version("b", "k2")),
    )
    assert codes(outcomes) == ["ok", "ok", "ok", "BucketNotEmpty", "ok", "ok", "NoSuchBucket"]
    assert outcomes[2].result == v1
    assert outcomes[4].result == v2
    assert state.list_buckets() == []


def test_a_deleted_key_hidden_in_the_batch_still_blocks_nothing(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    run(state, *(PutObject(f"p{i}", make_version("b", f"k{i}")) for i in range(5)))
    outcomes = run(
        state,
        *(DeleteObject(f"d{i}", "b", f"k{i}") for i in range(4)),
        DeleteBucket("x1", "b"),
        DeleteObject("d4", "b", "k4"),
        DeleteBucket("x2", "b"),
    )
    assert codes(outcomes)[4:] == ["BucketNotEmpty", "ok", "ok"]


def test_request_id_applies_once(state: StateMachine, make_version: VersionFactory) -> None:
    first = one(state, create("b", rid="r1"))
    assert one(state, create("b", rid="r1")) == first  # a retry, not "already owned"
    v1, v2 = make_version("b", "k"), make_version("b", "k")
    run(state, PutObject("p1", v1))
    assert one(state, PutObject("p2", v2)) == v1
    assert one(state, PutObject("p2", v2)) == v1  # the recorded outcome, not v2
    assert state.get_object("b", "k") == v2


def test_request_id_repeated_inside_one_batch(state: StateMachine) -> None:
    outcomes = run(state, create("b", rid="r1"), create("b", rid="r1"), create("b", rid="r2"))
    assert codes(outcomes) == ["ok", "ok", "BucketAlreadyOwnedByYou"]
    assert outcomes[0] == outcomes[1]


def test_recorded_errors_replay(state: StateMachine) -> None:
    with pytest.raises(errors.NoSuchBucket):
        one(state, DeleteBucket("r1", "b"))
    one(state, create("b"))
    with pytest.raises(errors.NoSuchBucket):
        one(state, DeleteBucket("r1", "b"))
    assert state.get_bucket("b").name == "b"


def test_request_records_are_pruned_past_retention(db: Rdict) -> None:
    state = StateMachine(db, request_retention_positions=3)
    for i in range(10):
        run(state, create(f"b{i}", rid=f"r{i}"))
    kept = [i for i in range(10) if state.request_outcome(f"r{i}") is not None]
    assert kept == [7, 8, 9]
    index = [k for k in db.keys() if isinstance(k, bytes) and k.startswith(b"q/")]
    assert len(index) == 3
    # Past retention a request id is new again (S3 retries come within seconds).
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        one(state, create("b0", rid="r0"))


def test_applied_position_survives_reopen(tmp_path: Path, make_version: VersionFactory) -> None:
    path = str(tmp_path / "db")
    db = open_db(path)
    state = StateMachine(db)
    run(state, create("b"), PutObject("p", make_version("b", "k")))
    assert state.applied_position == 2
    db.close()
    db = open_db(path)
    try:
        state = StateMachine(db)
        assert state.applied_position == 2
        assert state.get_object("b", "k").key == "k"
        # Replaying entries already applied changes nothing.
        applied = state.apply_batch([LogEntry(1, create("b")), LogEntry(3, create("c"))])
        state.commit(applied)
        assert codes(applied.outcomes) == ["ok", "ok"]
        assert applied.outcomes[0].result == state.get_bucket("b")
        assert state.applied_position == 3
    finally:
        db.close()


def test_positions_must_increase(state: StateMachine) -> None:
    with pytest.raises(AssertionError):
        state.apply_batch([LogEntry(5, create("a")), LogEntry(5, create("b"))])


def test_apply_is_deterministic(tmp_path: Path, make_version: VersionFactory) -> None:
    batches: list[list[Mutation]] = [
        [create("b"), create("c", owner="bob"), PutObject("p1", make_version("b", "x"))],
        [PutObject("p2", make_version("b", "x")), DeleteBucket("d1", "b"), create("b", "bob")],
        [
            DeleteObject("d2", "b", "x"),
            DeleteBucket("d3", "b"),
            PutObject("p1", make_version("c", "y")),
        ],
        [RegisterNode("", NodeInfo("n1", "z1", "h:1")), DeleteObject("d4", "c", "nothing")],
    ]
    contents = []
    for name in ("one", "two"):
        db = open_db(str(tmp_path / name))
        try:
            state = StateMachine(db, request_retention_positions=4)
            outcomes = [run(state, *batch) for batch in batches]
            contents.append((outcomes, list(db.items())))
        finally:
            db.close()
    assert contents[0] == contents[1]


def test_register_node_keeps_draining(db: Rdict, state: StateMachine) -> None:
    node = NodeInfo("n1", "zone-a", "10.0.0.1:9200", state="whatever")
    assert one(state, RegisterNode("", node)) == NodeInfo("n1", "zone-a", "10.0.0.1:9200")
    # An operator marks it draining (written directly: no admin mutation exists yet).
    db[keys.node_key("n1")] = record_to_json(replace(node, state=NODE_DRAINING))
    again = one(state, RegisterNode("", NodeInfo("n1", "zone-a", "10.0.0.2:9200")))
    assert again == NodeInfo("n1", "zone-a", "10.0.0.2:9200", state=NODE_DRAINING)
    assert state.list_nodes() == [again]


def test_put_holds_only_against_the_bucket_record_it_was_authorized_on(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    seen = bucket_fingerprint(state.get_bucket("b"))
    assert one(state, PutObject("p1", make_version("b", "k"), if_bucket_fingerprint=seen)) is None
    one(state, SetBucketAccess("acl-1", "b", "acl", "public-read"))
    with pytest.raises(errors.BucketChanged):
        one(state, PutObject("p2", make_version("b", "k2"), if_bucket_fingerprint=seen))
    with pytest.raises(errors.NoSuchKey):
        state.get_object("b", "k2")
    fresh = bucket_fingerprint(state.get_bucket("b"))
    assert one(state, PutObject("p3", make_version("b", "k2"), if_bucket_fingerprint=fresh)) is None


def test_a_bucket_fingerprint_survives_the_wire_and_the_store() -> None:
    full = BucketInfo(
        name="b",
        owner="alice",
        created_at=1_700_000_000.123456,
        versioning="Enabled",
        acl="public-read",
        policy='{"Statement": []}',
        cors="[]",
        lifecycle="[]",
        tags='{"a": "1"}',
        website="{}",
        cache_control="max-age=1",
        object_lock="{}",
        ownership="BucketOwnerEnforced",
        public_access_block="{}",
        encryption='{"mode": "AES256"}',
    )
    for bucket in (full, BucketInfo(name="b", owner="alice", created_at=1.5, acl="")):
        stored = bucket_from_json(record_to_json(bucket))
        wired = convert.bucket_from_pb(convert.bucket_to_pb(bucket))
        assert bucket_fingerprint(stored) == bucket_fingerprint(wired) == bucket_fingerprint(bucket)
    assert bucket_fingerprint(full) != bucket_fingerprint(replace(full, cache_control=""))


def test_delete_holds_only_against_the_bucket_record_it_was_authorized_on(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    one(state, PutObject("p1", make_version("b", "k")))
    seen = bucket_fingerprint(state.get_bucket("b"))
    one(state, SetBucketAccess("acl-1", "b", "acl", "public-read"))
    with pytest.raises(errors.BucketChanged):
        one(state, DeleteObject("d1", "b", "k", if_bucket_fingerprint=seen))
    assert state.get_object("b", "k").key == "k"
    fresh = bucket_fingerprint(state.get_bucket("b"))
    one(state, DeleteObject("d2", "b", "k", if_bucket_fingerprint=fresh))
    with pytest.raises(errors.NoSuchKey):
        state.get_object("b", "k")


class _SeekRecordingCursor:
    def __init__(self, cursor: Any, seeks: list[bytes]) -> None:
        self._cursor = cursor
        self._seeks = seeks

    def seek(self, key: bytes) -> None:
        self._seeks.append(key)
        self._cursor.seek(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _SeekRecordingDb:
    """The database, recording where every cursor seeks."""

    def __init__(self, db: Rdict) -> None:
        self._db = db
        self.seeks: list[bytes] = []

    def iter(self) -> _SeekRecordingCursor:
        return _SeekRecordingCursor(self._db.iter(), self.seeks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_pruning_resumes_past_what_it_pruned_before(db: Rdict) -> None:
    # RocksDB keeps a deleted key as a tombstone until a compaction, and a
    # seek steps over the tombstones after its target inside RocksDB:
    # pruning that sought the index's first key for every mutation stepped
    # over every record it had pruned since the last compaction — with the
    # retention reached, a replica applied ~100 mutations/s instead of ~10,000
    # (bench note in docs/metadata.md). It resumes where it stopped instead.
    recording = _SeekRecordingDb(db)
    state = StateMachine(recording, request_retention_positions=50)  # type: ignore[arg-type]
    for i in range(1050):
        run(state, create(f"b{i}", rid=f"r{i}"))
    index_seeks = [k for k in recording.seeks if k.startswith(keys.REQUEST_BY_POSITION)]
    assert len(index_seeks) >= 1000  # one per mutation past the retention
    assert index_seeks.count(keys.REQUEST_BY_POSITION) <= 1  # only the very first
    assert index_seeks == sorted(index_seeks)  # never back over pruned keys
    kept = [i for i in range(1050) if state.request_outcome(f"r{i}") is not None]
    assert kept == list(range(1000, 1050))


def test_a_read_lease_changes_nothing_but_the_applied_position(state: StateMachine) -> None:
    run(state, create("b"))
    before = list(state.items_for_digest())
    position = state.applied_position
    (outcome,) = run(state, ReadLease("", "replica-1", "127.0.0.1:9100", 2000, "ab12"))
    assert outcome.ok and outcome.result is None
    assert list(state.items_for_digest()) == before
    assert state.applied_position == position + 1
