"""Usage counters and quotas in the state machine, checked against a naive
recount of the stored records after every step of random histories."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence

import pytest
from rocksdict import Rdict

from metadata import keys
from metadata.mutations import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateBucket,
    CreateMultipartUpload,
    DeleteBucket,
    DeleteObject,
    LogEntry,
    Mutation,
    PutBucketVersioning,
    PutObject,
    PutPart,
    RecordRequestUsage,
    RecountUsage,
    SetQuota,
)
from metadata.outcome import Outcome
from metadata.service import _digest
from metadata.state import StateMachine, open_db
from tessera import errors
from tessera.model import (
    MultipartUpload,
    ObjectVersion,
    Segment,
    ShardLocation,
    bucket_from_json,
    segment_from_json,
    version_from_json,
)
from tessera.multipart import ListedPart
from tessera.usage import ZERO, StorageUsage, of_part, of_version

_ids = itertools.count()
PART_MIN = 10


def uid() -> str:
    return f"{next(_ids):026d}"


def run(state: StateMachine, *batch: Mutation) -> list[Outcome]:
    first = state.applied_position + 1
    applied = state.apply_batch([LogEntry(first + i, m) for i, m in enumerate(batch)])
    state.commit(applied)
    return applied.outcomes


def one(state: StateMachine, mutation: Mutation) -> object:
    return run(state, mutation)[0].unwrap()


def version(bucket: str, key: str, size: int) -> ObjectVersion:
    return ObjectVersion(
        bucket=bucket,
        key=key,
        version_id=uid(),
        size_bytes=size,
        etag=hashlib.md5(str(size).encode()).hexdigest(),
        content_type="",
        last_modified=1.0,
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=16,
        placement=tuple(ShardLocation(i, f"n{i}") for i in range(3)) if size else (),
    )


def segment(number: int, size: int) -> Segment:
    return Segment(
        shard_set_id=uid(),
        part_number=number,
        size_bytes=size,
        etag=hashlib.md5(f"{number}/{size}".encode()).hexdigest(),
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=16,
        placement=tuple(ShardLocation(i, f"n{i}") for i in range(3)),
    )


def scan(db: Rdict, prefix: bytes) -> list[tuple[bytes, bytes]]:
    cursor = db.iter()
    cursor.seek(prefix)
    found = []
    while cursor.valid() and cursor.key().startswith(prefix):
        found.append((cursor.key(), cursor.value()))
        cursor.next()
    return found


def recount(db: Rdict, bucket: str) -> StorageUsage:
    """The naive reference: every stored record of the bucket, counted afresh."""
    records: dict[tuple[str, str], ObjectVersion] = {}
    objects = 0
    for _, raw in scan(db, keys.object_namespace(bucket)):
        v = version_from_json(raw)
        records[(v.key, v.version_id)] = v
        objects += 1
    for _, raw in scan(db, keys.version_namespace(bucket)):
        v = version_from_json(raw)
        records[(v.key, v.version_id)] = v
    total = StorageUsage(objects=objects)
    for v in records.values():
        total = total + of_version(v)
    for upload_key, _ in scan(db, keys.upload_namespace(bucket)):
        _, upload_id = keys.split_upload_key(keys.upload_namespace(bucket), upload_key)
        total = total + StorageUsage(multipart_uploads=1)
        for _, raw in scan(db, keys.parts_prefix(upload_id)):
            total = total + of_part(segment_from_json(raw))
    return total


def counters(db: Rdict, key: bytes) -> StorageUsage:
    raw = db.get(key)
    return StorageUsage.unpack(raw) if raw is not None else ZERO


def check(state: StateMachine, buckets: Sequence[str]) -> None:
    db = state.db
    owners: dict[str, StorageUsage] = {}
    total = ZERO
    for _, raw in scan(db, keys.BUCKET):
        info = bucket_from_json(raw)
        expected = recount(db, info.name)
        assert counters(db, keys.usage_bucket_key(info.name)) == expected, info.name
        owners[info.owner] = owners.get(info.owner, ZERO) + expected
        total = total + expected
    for owner, expected in owners.items():
        assert counters(db, keys.usage_owner_key(owner)) == expected, owner
    assert counters(db, keys.USAGE_TOTAL) == total
    assert state.cluster_usage() == total


class Workload:
    """Random mutations over a few buckets (unversioned, enabled, suspended)."""

    def __init__(self, state: StateMachine, seed: int) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.uploads: dict[str, tuple[str, str, list[int]]] = {}

    def step(self) -> Mutation:
        rng = self.rng
        bucket = rng.choice(["plain", "versioned", "suspended"])
        key = rng.choice(["a", "b", "c"])
        choice = rng.random()
        if choice < 0.35:
            return PutObject(uid(), version(bucket, key, rng.choice([0, 1, 17, 40, 100])))
        if choice < 0.55:
            listed = self._versions(bucket, key)
            by_id = rng.choice(listed) if listed and rng.random() < 0.5 else ""
            return DeleteObject(uid(), bucket, key, version_id=by_id, marker_version_id=uid())
        if choice < 0.65:
            upload_id = uid()
            self.uploads[upload_id] = (bucket, key, [])
            upload = MultipartUpload(bucket, key, upload_id, 1.0, "alice", "")
            return CreateMultipartUpload(uid(), upload)
        if not self.uploads:
            return PutObject(uid(), version(bucket, key, 5))
        upload_id = rng.choice(sorted(self.uploads))
        b, k, numbers = self.uploads[upload_id]
        if choice < 0.85:
            number = rng.randint(1, 3)
            numbers.append(number)
            return PutPart(uid(), b, k, upload_id, segment(number, rng.choice([PART_MIN, 33])))
        del self.uploads[upload_id]
        if choice < 0.93:
            return AbortMultipartUpload(uid(), b, k, upload_id)
        parts = self._parts(upload_id)
        chosen = tuple(ListedPart(p.part_number, p.etag) for p in parts[: rng.randint(1, 3)])
        return CompleteMultipartUpload(uid(), b, k, upload_id, chosen, uid(), 2.0, PART_MIN)

    def _versions(self, bucket: str, key: str) -> list[str]:
        return [v.version_id for v in self.state.versions_of(bucket, key)]

    def _parts(self, upload_id: str) -> list[Segment]:
        found = scan(self.state.db, keys.parts_prefix(upload_id))
        return [segment_from_json(raw) for _, raw in found]


def setup_buckets(state: StateMachine) -> None:
    run(
        state,
        CreateBucket("setup-1", "plain", "alice", 1.0),
        CreateBucket("setup-2", "versioned", "alice", 1.0),
        CreateBucket("setup-3", "suspended", "bob", 1.0),
        PutBucketVersioning("setup-4", "versioned", "Enabled"),
    )


@pytest.mark.parametrize("seed", range(6))
def test_counters_equal_a_recount_after_every_batch(state: StateMachine, seed: int) -> None:
    setup_buckets(state)
    workload = Workload(state, seed)
    rng = random.Random(seed + 100)
    for step in range(60):
        if step == 20:
            # the first time versioning is set, existing objects become null versions
            run(state, PutBucketVersioning(uid(), "suspended", "Enabled"))
        if step == 40:
            run(state, PutBucketVersioning(uid(), "suspended", "Suspended"))
        batch = [workload.step() for _ in range(rng.randint(1, 4))]
        run(state, *batch)
        check(state, ["plain", "versioned", "suspended"])


def test_a_replayed_request_id_is_not_counted_twice(state: StateMachine) -> None:
    setup_buckets(state)
    put = PutObject("same-request", version("plain", "k", 40))
    run(state, put)
    run(state, put)  # a retry of the same request: answered from its record
    assert counters(state.db, keys.usage_bucket_key("plain")).logical_bytes == 40
    check(state, ["plain"])


def test_batching_does_not_change_the_numbers(tmp_path: object) -> None:
    """One batch or one entry at a time: the same state, digest for digest."""
    mutations: list[Mutation] = []
    first = StateMachine(open_db(f"{tmp_path}/one"))
    second = StateMachine(open_db(f"{tmp_path}/many"))
    setup_buckets(first)
    setup_buckets(second)
    workload = Workload(first, 7)
    for _ in range(40):
        m = workload.step()
        run(first, m)
        mutations.append(m)
    for m in mutations:
        run(second, m)
    assert _digest(first) == _digest(second)


def test_a_quota_refuses_growth_and_the_refusal_writes_nothing(state: StateMachine) -> None:
    setup_buckets(state)
    one(state, SetQuota(uid(), "bucket", "plain", max_bytes=None, max_objects=2))
    one(state, PutObject(uid(), version("plain", "a", 10)))
    one(state, PutObject(uid(), version("plain", "b", 10)))
    before = counters(state.db, keys.usage_bucket_key("plain"))
    with pytest.raises(errors.QuotaExceeded):
        one(state, PutObject(uid(), version("plain", "c", 10)))
    assert counters(state.db, keys.usage_bucket_key("plain")) == before
    with pytest.raises(errors.NoSuchKey):
        state.get_object("plain", "c")
    # an overwrite does not add an object; a delete frees room
    one(state, PutObject(uid(), version("plain", "a", 20)))
    one(state, DeleteObject(uid(), "plain", "b"))
    one(state, PutObject(uid(), version("plain", "c", 10)))
    check(state, ["plain"])


def test_an_owner_quota_spans_its_buckets(state: StateMachine) -> None:
    setup_buckets(state)
    one(state, SetQuota(uid(), "owner", "alice", max_bytes=100, max_objects=None))
    one(state, PutObject(uid(), version("plain", "a", 60)))
    with pytest.raises(errors.QuotaExceeded):
        one(state, PutObject(uid(), version("versioned", "a", 41)))
    one(state, PutObject(uid(), version("versioned", "a", 40)))
    # bob's bucket is not alice's
    one(state, PutObject(uid(), version("suspended", "a", 1000)))
    # parts of uploads in progress count against max_bytes
    upload = MultipartUpload("plain", "m", uid(), 1.0, "alice", "")
    one(state, CreateMultipartUpload(uid(), upload))
    with pytest.raises(errors.QuotaExceeded):
        one(state, PutPart(uid(), "plain", "m", upload.upload_id, segment(1, 1)))
    # a cleared quota lets it through at once
    one(state, SetQuota(uid(), "owner", "alice", None, None))
    one(state, PutPart(uid(), "plain", "m", upload.upload_id, segment(1, 1)))
    assert state.quota("owner", "alice") is None
    check(state, ["plain", "versioned", "suspended"])


def test_quota_on_a_missing_bucket_and_bad_limits(state: StateMachine) -> None:
    setup_buckets(state)
    with pytest.raises(errors.NoSuchBucket):
        one(state, SetQuota(uid(), "bucket", "nope", 1, None))
    with pytest.raises(errors.InvalidArgument):
        one(state, SetQuota(uid(), "bucket", "plain", -1, None))
    with pytest.raises(errors.InvalidArgument):
        one(state, SetQuota(uid(), "planet", "plain", 1, None))


def test_deleting_a_bucket_drops_its_counters_and_quota(state: StateMachine) -> None:
    setup_buckets(state)
    one(state, SetQuota(uid(), "bucket", "plain", 5, None))
    v = version("plain", "a", 5)
    one(state, PutObject(uid(), v))
    one(state, DeleteObject(uid(), "plain", "a"))
    one(state, DeleteBucket(uid(), "plain"))
    assert state.db.get(keys.usage_bucket_key("plain")) is None
    assert state.quota("bucket", "plain") is None
    check(state, [])


def usage_flush(request_id: str, *records: tuple[int, str, dict[str, int]]) -> RecordRequestUsage:
    return RecordRequestUsage(request_id, tuple(records), retention_hours=24)


def test_a_retried_flush_counts_once(state: StateMachine) -> None:
    setup_buckets(state)
    flush = usage_flush("usage/g1/1", (100, "plain", {"put_class": 3, "bytes_in": 50}))
    run(state, flush)
    run(state, flush)
    run(state, usage_flush("usage/g1/2", (100, "plain", {"get_class": 2, "bytes_out": 9})))
    report = state.usage_report("plain", "", 100, 100)
    assert report["requests_total"] == {
        "put_class": 3,
        "get_class": 2,
        "delete": 0,
        "bytes_in": 50,
        "bytes_out": 9,
    }
    assert report["hours"] == [{"hour": 100, "bucket": "plain", **report["requests_total"]}]


def test_requests_to_unknown_buckets_share_one_record(state: StateMachine) -> None:
    setup_buckets(state)
    ghosts = (5, "ghost-1", {"get_class": 1}), (5, "ghost-2", {"get_class": 1})
    run(state, usage_flush("f1", *ghosts))
    report = state.usage_report("", "", 0, 10)
    assert [(h["bucket"], h["get_class"]) for h in report["hours"]] == [("", 2)]


def test_owner_report_and_hour_range(state: StateMachine) -> None:
    setup_buckets(state)
    run(
        state,
        usage_flush(
            "f1",
            (10, "plain", {"put_class": 1}),
            (11, "versioned", {"put_class": 2}),
            (11, "suspended", {"put_class": 4}),
        ),
    )
    one(state, PutObject(uid(), version("plain", "x", 7)))
    alice = state.usage_report("", "alice", 11, 11)
    assert alice["requests_total"]["put_class"] == 2
    assert alice["owner"]["logical_bytes"] == 7
    assert [b["bucket"] for b in alice["buckets"]] == ["plain", "versioned"]
    with pytest.raises(errors.NoSuchBucket):
        state.usage_report("nope", "", 0, 1)


def test_a_deleted_buckets_requests_stay_reportable(state: StateMachine) -> None:
    setup_buckets(state)
    run(state, usage_flush("f1", (10, "plain", {"put_class": 3})))
    one(state, DeleteBucket(uid(), "plain"))
    report = state.usage_report("plain", "", 0, 20)
    assert report["buckets"] == []
    assert report["requests_total"]["put_class"] == 3
    assert state.usage_report("", "alice", 0, 20)["requests_total"]["put_class"] == 3


def test_old_hours_are_pruned_whatever_the_batching(tmp_path: object) -> None:
    results = []
    for name, batched in (("one", True), ("many", False)):
        state = StateMachine(open_db(f"{tmp_path}/{name}"))
        setup_buckets(state)
        flushes = [
            usage_flush("f1", (1, "plain", {"get_class": 1}), (2, "plain", {"get_class": 1})),
            usage_flush("f2", (30, "plain", {"get_class": 1})),  # retention 24: hours < 6 go
        ]
        if batched:
            run(state, *flushes)
        else:
            for f in flushes:
                run(state, f)
        hours = [h["hour"] for h in state.usage_report("", "", 0, 100)["hours"]]
        results.append((hours, _digest(state)))
    assert results[0] == results[1]
    assert results[0][0] == [30]


def test_negative_counters_are_refused(state: StateMachine) -> None:
    setup_buckets(state)
    with pytest.raises(errors.InvalidArgument):
        one(state, usage_flush("bad", (1, "plain", {"get_class": -1})))


def test_recount_backfills_counters_of_data_stored_before_them(state: StateMachine) -> None:
    setup_buckets(state)
    workload = Workload(state, 3)
    for _ in range(40):
        run(state, workload.step())
    # what a state from before usage counting looks like: records, no counters
    for prefix in (keys.USAGE_BUCKET, keys.USAGE_OWNER, keys.USAGE_TOTAL):
        for key, _ in scan(state.db, prefix):
            state.db.delete(key)
    assert state.cluster_usage() == ZERO
    run(state, *(RecountUsage(uid(), name) for name in ("plain", "versioned", "suspended")))
    check(state, ["plain", "versioned", "suspended"])
    run(state, RecountUsage(uid(), "plain"))  # a second recount changes nothing
    check(state, ["plain", "versioned", "suspended"])
    with pytest.raises(errors.NoSuchBucket):
        one(state, RecountUsage(uid(), "nope"))


def test_a_part_number_out_of_range_is_an_s3_error_not_a_failed_batch(
    state: StateMachine,
) -> None:
    setup_buckets(state)
    upload = MultipartUpload("plain", "m", uid(), 1.0, "alice", "")
    one(state, CreateMultipartUpload(uid(), upload))
    for number in (-1, 0, 10_001, 1 << 40):
        with pytest.raises(errors.InvalidArgument):
            one(state, PutPart(uid(), "plain", "m", upload.upload_id, segment(number, 5)))
    check(state, ["plain"])


def test_a_report_to_the_end_of_time_is_answered(state: StateMachine) -> None:
    setup_buckets(state)
    run(state, usage_flush("f", (7, "plain", {"get_class": 1})))
    assert state.usage_report("", "", 0, (1 << 64) - 1)["requests_total"]["get_class"] == 1
