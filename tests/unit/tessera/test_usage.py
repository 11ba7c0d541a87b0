"""Pure usage arithmetic: record contributions, physical bytes against the codec,
quota decisions, request classes and hours."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.codec import encode_stripe
from tessera.geometry import Geometry
from tessera.model import ObjectVersion, Segment, ShardLocation
from tessera.usage import (
    CLASS_DELETE,
    CLASS_GET,
    CLASS_PUT,
    ZERO,
    Quota,
    RequestCounters,
    StorageUsage,
    hour_of,
    of_part,
    of_version,
    one_request,
    physical_bytes_of,
    quota_violation,
    request_class,
)
from tessera.usage import StorageUsage as U


def version(size: int, k: int = 2, m: int = 1, chunk: int = 64, **fields: object) -> ObjectVersion:
    values: dict[str, object] = {
        "bucket": "b",
        "key": "k",
        "version_id": "v",
        "size_bytes": size,
        "etag": "",
        "content_type": "",
        "last_modified": 0.0,
        "data_shards": k,
        "parity_shards": m,
        "chunk_size_bytes": chunk,
        "placement": tuple(ShardLocation(i, f"n{i}") for i in range(k + m)),
    }
    values.update(fields)
    return ObjectVersion(**values)  # type: ignore[arg-type]


def part(size: int, number: int = 1) -> Segment:
    return Segment("s", number, size, "", 2, 1, 64, ())


@given(
    size=st.integers(0, 5000),
    k=st.integers(1, 6),
    m=st.integers(0, 4),
    chunk=st.sampled_from([1, 7, 64, 256]),
)
def test_physical_bytes_are_what_the_codec_writes(size: int, k: int, m: int, chunk: int) -> None:
    geometry = Geometry(k, m, chunk)
    written = 0
    for stripe in range(geometry.stripe_count(size)):
        data = bytes(geometry.stripe_data_bytes(size, stripe))
        written += sum(len(c) for c in encode_stripe(data, geometry))
    assert physical_bytes_of(version(size, k, m, chunk)) == written


def test_a_record_added_then_removed_sums_to_zero() -> None:
    v = version(1000)
    p = part(300)
    assert of_version(v) - of_version(v) == ZERO
    assert (of_part(p) + of_version(v) - of_part(p) - of_version(v)).is_zero()
    assert of_version(v) == StorageUsage(versions=1, logical_bytes=1000, physical_bytes=1500)


def test_a_delete_marker_counts_as_a_marker_only() -> None:
    marker = version(0, delete_marker=True, data_shards=0, chunk_size_bytes=0, placement=())
    assert of_version(marker) == StorageUsage(delete_markers=1)


def test_a_multipart_version_is_the_sum_of_its_segments() -> None:
    segments = (part(200, 1), part(65, 2))
    v = version(265, segments=segments, placement=())
    assert physical_bytes_of(v) == of_part(segments[0]).multipart_physical_bytes + (
        of_part(segments[1]).multipart_physical_bytes
    )


def test_usage_round_trips_through_its_dict() -> None:
    u = StorageUsage(1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert StorageUsage.from_dict({**u.to_dict(), "owner": "x"}) == u
    assert u.quota_bytes == 4 + 8


@pytest.mark.parametrize(
    ("quota", "after", "delta", "refused"),
    [
        (Quota(max_objects=2), U(versions=2), U(versions=1), False),
        (Quota(max_objects=2), U(versions=3), U(versions=1), True),
        # shrinking is always allowed, even over a lowered quota
        (Quota(max_objects=1), U(versions=3), U(versions=-1), False),
        (Quota(max_bytes=100), U(logical_bytes=100), U(logical_bytes=1), False),
        (Quota(max_bytes=100), U(logical_bytes=101), U(logical_bytes=1), True),
        # parts of uploads in progress count against max_bytes
        (Quota(max_bytes=100), U(multipart_bytes=101), U(multipart_bytes=5), True),
        # an overwrite by a smaller object under a lowered quota
        (Quota(max_bytes=10), U(logical_bytes=50), U(logical_bytes=-5), False),
        # a completion moves part bytes into a version: no growth
        (
            Quota(max_bytes=10),
            U(logical_bytes=50),
            U(logical_bytes=50, multipart_bytes=-50),
            False,
        ),
        (Quota(), U(versions=10**9), U(versions=1), False),
    ],
)
def test_quota_decisions(
    quota: Quota, after: StorageUsage, delta: StorageUsage, refused: bool
) -> None:
    assert bool(quota_violation(quota, after, delta)) is refused


def test_quota_round_trips() -> None:
    for q in (Quota(), Quota(5, None), Quota(None, 7), Quota(1, 2)):
        assert Quota.from_dict(q.to_dict()) == q


@pytest.mark.parametrize(
    ("operation", "cls"),
    [
        ("PutObject", CLASS_PUT),
        ("PostObject", CLASS_PUT),
        ("ListObjectsV2", CLASS_PUT),
        ("ListBuckets", CLASS_PUT),
        ("CreateMultipartUpload", CLASS_PUT),
        ("UploadPart", CLASS_PUT),
        ("CompleteMultipartUpload", CLASS_PUT),
        ("GetObject", CLASS_GET),
        ("HeadObject", CLASS_GET),
        ("HeadBucket", CLASS_GET),
        ("Unknown", CLASS_GET),
        ("Unsupported:GetBucketLifecycle", CLASS_GET),
        ("DeleteObject", CLASS_DELETE),
        ("DeleteObjects", CLASS_DELETE),
        ("AbortMultipartUpload", CLASS_DELETE),
    ],
)
def test_request_classes(operation: str, cls: str) -> None:
    assert request_class(operation) == cls
    counted = one_request(operation, 5, 7)
    assert counted.put_class + counted.get_class + counted.delete == 1
    assert getattr(counted, cls) == 1
    assert (counted.bytes_in, counted.bytes_out) == (5, 7)


def test_counters_add_and_validate() -> None:
    a = RequestCounters(1, 2, 3, 4, 5)
    assert a + a == RequestCounters(2, 4, 6, 8, 10)
    assert RequestCounters.from_dict(a.to_dict()) == a
    assert not RequestCounters(put_class=-1).is_valid()


def test_hours() -> None:
    assert hour_of(0) == 0
    assert hour_of(3599.9) == 0
    assert hour_of(3600) == 1
    assert hour_of(1_764_000_000) == 490_000
