"""A listing's summary of a version keeps what a listing shows and drops
where the data is (placement, segments, inline bytes) and user metadata."""

from __future__ import annotations

from proto import convert
from tessera.model import ListPage, ObjectVersion, ShardLocation


def test_a_summary_keeps_what_a_listing_shows_and_nothing_else() -> None:
    version = ObjectVersion(
        bucket="b",
        key="photos/cat.jpg",
        version_id="v1",
        size_bytes=12345,
        etag="0123abcd",
        content_type="image/jpeg",
        last_modified=1_700_000_000.25,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=1 << 20,
        placement=tuple(ShardLocation(i, f"node-{i}") for i in range(6)),
        user_metadata={"owner": "alice"},
        system_metadata={"x-amz-storage-class": "REDUCED_REDUNDANCY"},
        inline_data=b"",
        s3_version_id="s3v1",
    )
    page = convert.page_from_pb(
        convert.page_to_pb(convert.page_from_pb(convert.page_to_pb(_page(version))), summary=True)
    )
    (summary,) = page.objects
    for name in ("bucket", "key", "version_id", "size_bytes", "etag", "last_modified"):
        assert getattr(summary, name) == getattr(version, name)
    assert summary.system_metadata == version.system_metadata
    assert summary.s3_version_id == "s3v1" and not summary.delete_marker
    assert summary.placement == () and summary.user_metadata == {}
    assert summary.inline_data == b"" and summary.segments == ()


def _page(version: ObjectVersion) -> ListPage:
    return ListPage(objects=(version,), common_prefixes=(), is_truncated=False, next_start_after="")
