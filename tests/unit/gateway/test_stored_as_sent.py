"""A PUT asks metadata for its record back (for the gateway's records under
a record lease) only where metadata stores the version as sent."""

from __future__ import annotations

from gateway.write_path import stored_as_sent
from tessera.model import VERSIONING_ENABLED, VERSIONING_SUSPENDED, BucketInfo


def test_only_unversioned_buckets_without_object_lock_store_a_version_as_sent() -> None:
    plain = BucketInfo(name="b", owner="o", created_at=1.0)
    assert stored_as_sent(plain)
    assert stored_as_sent(None)  # unknown: the replica decides
    assert not stored_as_sent(BucketInfo("b", "o", 1.0, versioning=VERSIONING_ENABLED))
    assert not stored_as_sent(BucketInfo("b", "o", 1.0, versioning=VERSIONING_SUSPENDED))
    assert not stored_as_sent(BucketInfo("b", "o", 1.0, object_lock="{}"))
