"""A real cache in front of Tessera: Debian's nginx with proxy_cache, the
shared cluster as its origin (docs/cdn-and-apps.md). Public objects are
served from the cache, expired entries are revalidated (304 from the origin
when unchanged, the new object and ETag after an overwrite), ranges are
right on a miss and on a hit, and private objects — signed or pre-signed —
never come out of the cache for anyone."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import s3_client
from tests.integration.http_plain import Answer, request
from tests.integration.nginx_cache import NginxCache, require_nginx

pytestmark = pytest.mark.integration

SHORT_MAX_AGE_SECONDS = 1
# Waiting past a freshness lifetime (not a timing assertion: whatever the
# machine's speed, the entry is stale afterwards).
PAST_SHORT_MAX_AGE_SECONDS = SHORT_MAX_AGE_SECONDS + 1.5


@pytest.fixture(scope="module")
def cache(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxCache]:
    require_nginx()
    nginx = NginxCache(tmp_path_factory.mktemp("nginx"), cluster.layout.s3_port)
    nginx.start()
    yield nginx
    nginx.stop()


def via(cache: NginxCache, path: str, **headers: str) -> Answer:
    return request(cache.port, "GET", path, headers)


def status_of(answer: Answer) -> str:
    return answer.header("X-Cache-Status") or "-"


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"cdn-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def test_public_objects_are_served_from_the_cache(cache: NginxCache, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(50_000)
    s3.put_object(
        Bucket=bucket, Key="hero.jpg", Body=body, ACL="public-read",
        CacheControl="public, max-age=600", ContentType="image/jpeg",
    )  # fmt: skip
    first = via(cache, f"/{bucket}/hero.jpg")
    assert (first.status, status_of(first), first.body) == (200, "MISS", body)
    for _ in range(3):
        hit = via(cache, f"/{bucket}/hero.jpg")
        assert (hit.status, status_of(hit), hit.body) == (200, "HIT", body)
        assert hit.header("ETag") == first.header("ETag")
        assert hit.header("Content-Type") == "image/jpeg"
    # A client's own revalidation is answered by the cache.
    etag = first.header("ETag")
    assert etag is not None
    not_modified = via(cache, f"/{bucket}/hero.jpg", **{"If-None-Match": etag})
    assert (not_modified.status, status_of(not_modified)) == (304, "HIT")


def test_expired_entries_revalidate_and_overwrites_show(cache: NginxCache, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    control = f"public, max-age={SHORT_MAX_AGE_SECONDS}"
    s3.put_object(
        Bucket=bucket, Key="same.txt", Body=b"stable", ACL="public-read", CacheControl=control
    )
    s3.put_object(
        Bucket=bucket, Key="news.txt", Body=b"old news", ACL="public-read", CacheControl=control
    )
    old = via(cache, f"/{bucket}/news.txt")
    assert (status_of(old), old.body) == ("MISS", b"old news")
    assert status_of(via(cache, f"/{bucket}/same.txt")) == "MISS"
    new_etag = s3.put_object(
        Bucket=bucket, Key="news.txt", Body=b"new news!", ACL="public-read", CacheControl=control
    )["ETag"]
    time.sleep(PAST_SHORT_MAX_AGE_SECONDS)
    # Unchanged: the origin answers the cache's If-None-Match with 304.
    same = via(cache, f"/{bucket}/same.txt")
    assert (same.status, status_of(same), same.body) == (200, "REVALIDATED", b"stable")
    # Overwritten: the ETag no longer matches, the new object is fetched.
    fresh = via(cache, f"/{bucket}/news.txt")
    assert (status_of(fresh), fresh.body, fresh.header("ETag")) == (
        "EXPIRED", b"new news!", new_etag
    )  # fmt: skip
    assert fresh.header("ETag") != old.header("ETag")


def test_versioned_urls_stay_cached_across_overwrites(cache: NginxCache, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="app.js", Body=b"v1();", ACL="public-read")
    path = f"/{bucket}/app.js?versionId={first['VersionId']}"
    miss = via(cache, path)
    assert (status_of(miss), miss.body) == ("MISS", b"v1();")
    assert "immutable" in (miss.header("Cache-Control") or "")
    s3.put_object(Bucket=bucket, Key="app.js", Body=b"v2();", ACL="public-read")
    hit = via(cache, path)
    assert (status_of(hit), hit.body) == ("HIT", b"v1();")  # that version, forever
    latest = via(cache, f"/{bucket}/app.js")
    assert latest.body == b"v2();"


def test_ranges_through_the_cache(cache: NginxCache, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(3 * 1024 * 1024 + 17)  # several stripes
    s3.put_object(
        Bucket=bucket, Key="video.mp4", Body=body, ACL="public-read",
        CacheControl="public, max-age=600",
    )  # fmt: skip
    for expected, (first, last) in (
        ("MISS", (1000, 1999)),
        ("HIT", (len(body) - 100, len(body) - 1)),
        ("HIT", (2 * 1024 * 1024 - 5, 2 * 1024 * 1024 + 5)),
    ):
        part = via(cache, f"/{bucket}/video.mp4", Range=f"bytes={first}-{last}")
        assert (part.status, status_of(part)) == (206, expected)
        assert part.header("Content-Range") == f"bytes {first}-{last}/{len(body)}"
        assert part.body == body[first : last + 1]
    whole = via(cache, f"/{bucket}/video.mp4")
    assert (status_of(whole), whole.body) == ("HIT", body)


def test_private_objects_never_come_from_the_cache(
    cache: NginxCache, cluster: LocalCluster, s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="payslip.pdf", Body=b"%PDF private")
    s3.put_object(
        Bucket=bucket,
        Key="claims-public.pdf",
        Body=b"%PDF mine",
        CacheControl="public, max-age=600",
    )
    through = s3_client(cluster, signature_version="s3v4")
    through.meta.events.register(
        "before-sign.s3", lambda request, **_: _to(request, cache.endpoint)
    )
    for key, body in (("payslip.pdf", b"%PDF private"), ("claims-public.pdf", b"%PDF mine")):
        for _ in range(2):
            got = through.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == body
            assert got["CacheControl"].startswith("private")
            headers = got["ResponseMetadata"]["HTTPHeaders"]
            assert headers["x-cache-status"] == "MISS"
        # An unsigned client asking the cache for the same URL is refused
        # by the origin, not served what the signed one got.
        anonymous = via(cache, f"/{bucket}/{key}")
        assert (anonymous.status, status_of(anonymous)) == (403, "MISS")
        assert body not in anonymous.body
    url = urlsplit(
        through.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "payslip.pdf"}, ExpiresIn=120
        )
    )
    assert url.port == cache.port
    for _ in range(2):
        presigned = via(cache, f"{url.path}?{url.query}")
        assert (presigned.status, status_of(presigned)) == (200, "MISS")
        assert presigned.header("Cache-Control") == "private"
    assert via(cache, url.path).status == 403


def _to(request, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    """Sends a boto3 request to the cache instead of the origin (before it is
    signed, so the signature covers the cache's host, which nginx passes on)."""
    parts = urlsplit(request.url)
    request.url = f"{endpoint}{parts.path}" + (f"?{parts.query}" if parts.query else "")
