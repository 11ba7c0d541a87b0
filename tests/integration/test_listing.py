"""ListObjectsV2 and v1 over a few hundred keys: prefix, delimiter
(CommonPrefixes), max-keys, continuation tokens and start-after."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.harness import replicas_metric_total

pytestmark = pytest.mark.integration

KEYS = sorted(
    [f"photos/2024/{m:02d}/img{i:03d}.jpg" for m in (1, 2, 3) for i in range(40)]
    + [f"docs/{c}/readme-{i}.txt" for c in "abcde" for i in range(20)]
    + [f"top-{i:03d}" for i in range(60)]
    + ["photos/cover.png"]
)


@pytest.fixture(scope="module")
def listed(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"list-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), KEYS))
    return name


def all_pages(s3, **kwargs) -> tuple[list[str], list[str], int]:  # type: ignore[no-untyped-def]
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def test_full_listing_paginated(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    keys, prefixes, pages = all_pages(s3, Bucket=listed, PaginationConfig={"PageSize": 37})
    assert keys == KEYS and prefixes == []
    assert pages == -(-len(KEYS) // 37)


def test_delimiter_folders(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    keys, prefixes, _ = all_pages(s3, Bucket=listed, Delimiter="/")
    assert prefixes == ["docs/", "photos/"]
    assert keys == [k for k in KEYS if "/" not in k]
    keys, prefixes, _ = all_pages(s3, Bucket=listed, Prefix="photos/", Delimiter="/")
    assert prefixes == ["photos/2024/"] and keys == ["photos/cover.png"]
    keys, prefixes, _ = all_pages(
        s3, Bucket=listed, Prefix="photos/2024/", Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    assert prefixes == ["photos/2024/01/", "photos/2024/02/", "photos/2024/03/"]


def test_prefix_and_delimiter_paginate_together(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    keys, prefixes, pages = all_pages(
        s3, Bucket=listed, Prefix="docs/", Delimiter="/", PaginationConfig={"PageSize": 2}
    )
    assert prefixes == [f"docs/{c}/" for c in "abcde"] and keys == [] and pages == 3


def test_start_after_and_max_keys(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    page = s3.list_objects_v2(Bucket=listed, StartAfter="photos/2024/03/img038.jpg", MaxKeys=5)
    assert [o["Key"] for o in page["Contents"]] == KEYS[
        KEYS.index("photos/2024/03/img038.jpg") + 1 :
    ][:5]
    assert page["IsTruncated"] is True and page["KeyCount"] == 5
    empty = s3.list_objects_v2(Bucket=listed, MaxKeys=0)
    assert empty["KeyCount"] == 0 and "Contents" not in empty


def test_listing_v1_markers(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    keys: list[str] = []
    for page in s3.get_paginator("list_objects").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 50}
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == KEYS


def test_listing_reports_sizes_and_etags(s3, listed: str) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    page = s3.list_objects_v2(Bucket=listed, Prefix="top-00")
    for obj in page["Contents"]:
        assert obj["Size"] == len(obj["Key"])
        assert obj["ETag"] == f'"{hashlib.md5(obj["Key"].encode()).hexdigest()}"'


SERVED = 'tessera_metadata_list_pages_ahead_total{outcome="served"}'
STALE = 'tessera_metadata_list_pages_ahead_total{outcome="stale"}'


def test_pages_read_ahead_are_served_only_while_their_bucket_is_unchanged(  # type: ignore[no-untyped-def]
    cluster, s3
) -> None:
    name = f"ahead-{uuid.uuid4().hex[:10]}"
    other = f"ahead-other-{uuid.uuid4().hex[:10]}"
    for bucket in (name, other):
        s3.create_bucket(Bucket=bucket)
    for i in range(10):
        s3.put_object(Bucket=name, Key=f"k{i}", Body=b"x")

    # A walk of four pages: the replica reads pages 2-4 ahead and serves them.
    served = replicas_metric_total(cluster, SERVED)
    keys, _, pages = all_pages(s3, Bucket=name, PaginationConfig={"PageSize": 3})
    assert keys == [f"k{i}" for i in range(10)] and pages == 4
    assert replicas_metric_total(cluster, SERVED) == served + 3

    # A write to another bucket leaves the page read ahead good.
    first = s3.list_objects_v2(Bucket=name, MaxKeys=3)
    s3.put_object(Bucket=other, Key="k3a", Body=b"x")
    second = s3.list_objects_v2(
        Bucket=name, MaxKeys=3, ContinuationToken=first["NextContinuationToken"]
    )
    assert [o["Key"] for o in second["Contents"]] == ["k3", "k4", "k5"]
    assert replicas_metric_total(cluster, SERVED) == served + 4

    # Writes to the bucket after its next page was read ahead: the request
    # for that page sees them (the page read ahead is stale, not served).
    stale = replicas_metric_total(cluster, STALE)
    first = s3.list_objects_v2(Bucket=name, MaxKeys=3)
    assert [o["Key"] for o in first["Contents"]] == ["k0", "k1", "k2"]
    s3.put_object(Bucket=name, Key="k3a", Body=b"new")
    s3.delete_object(Bucket=name, Key="k4")
    second = s3.list_objects_v2(
        Bucket=name, MaxKeys=3, ContinuationToken=first["NextContinuationToken"]
    )
    assert [(o["Key"], o["Size"]) for o in second["Contents"]] == [("k3", 1), ("k3a", 3), ("k5", 1)]
    assert replicas_metric_total(cluster, STALE) == stale + 1
    assert replicas_metric_total(cluster, SERVED) == served + 4
