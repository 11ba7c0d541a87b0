"""The gateway's bucket cache: ttl, changes through the same client seen at
once, a read in flight never overwriting a newer change."""

from __future__ import annotations

import time

import pytest

from metadata.bucket_cache import BucketCache
from tessera.model import BucketInfo

PRIVATE = BucketInfo(name="photos", owner="alice", created_at=1.0)
PUBLIC = BucketInfo(name="photos", owner="alice", created_at=1.0, acl="public-read")


def test_nothing_is_cached_with_a_zero_ttl() -> None:
    cache = BucketCache(0)
    cache.read(PRIVATE, cache.generation("photos"))
    cache.changed(PUBLIC)
    assert cache.get("photos") is None


def test_an_entry_lives_for_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache = BucketCache(1.0)
    cache.read(PRIVATE, cache.generation("photos"))
    now[0] += 0.9
    assert cache.get("photos") == PRIVATE
    now[0] += 0.2
    assert cache.get("photos") is None


def test_a_change_replaces_and_a_deletion_drops() -> None:
    cache = BucketCache(60)
    cache.read(PRIVATE, cache.generation("photos"))
    cache.changed(PUBLIC)
    assert cache.get("photos") == PUBLIC
    cache.deleted("photos")
    assert cache.get("photos") is None


def test_a_read_in_flight_across_a_change_is_not_stored() -> None:
    cache = BucketCache(60)
    started = cache.generation("photos")
    cache.changed(PUBLIC)  # lands while the read is in flight
    cache.read(PRIVATE, started)  # the read's (older) answer arrives
    assert cache.get("photos") == PUBLIC
    started = cache.generation("photos")
    cache.deleted("photos")
    cache.read(PRIVATE, started)
    assert cache.get("photos") is None


def test_entries_are_bounded() -> None:
    cache = BucketCache(60, entries_max=3)
    for i in range(5):
        cache.read(BucketInfo(name=f"b{i}", owner="o", created_at=1.0), 0)
    assert [cache.get(f"b{i}") is not None for i in range(5)] == [False, False, True, True, True]


def test_only_mutations_that_may_change_a_bucket_record_drop_its_entry() -> None:
    from metadata.client import _changed_bucket
    from proto import tessera_pb2 as pb

    access = pb.SetBucketAccessRequest(bucket="photos", field="acl", request_id="r1")
    assert _changed_bucket("SetBucketAccess", access) == "photos"
    assert _changed_bucket("SomeFutureBucketChange", access) == "photos"
    assert _changed_bucket("DeleteBucket", pb.BucketName(name="photos", request_id="r2")) == (
        "photos"
    )
    tagging = pb.TaggingRequest(bucket="photos", key="k", request_id="r3")
    assert _changed_bucket("PutObjectTagging", tagging) == ""  # a version, not the bucket
    assert _changed_bucket("GetBucket", pb.BucketName(name="photos")) == ""  # a read
