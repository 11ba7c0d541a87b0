"""Multipart records survive the protobuf edge both ways."""

from __future__ import annotations

from proto import convert
from tessera.model import MultipartUpload, ObjectVersion, Segment, ShardLocation


def test_version_with_segments_round_trips() -> None:
    segment = Segment(
        shard_set_id="a" * 26,
        part_number=7,
        size_bytes=5 * 1024 * 1024,
        etag="0" * 32,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=(ShardLocation(0, "n1"), ShardLocation(3, "n4")),
        last_modified=12.5,
        checksums={"crc32": "AAAAAA=="},
    )
    version = ObjectVersion(
        bucket="b",
        key="k",
        version_id="v" * 26,
        size_bytes=segment.size_bytes,
        etag="1" * 32 + "-1",
        content_type="t",
        last_modified=1.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=(),
        segments=(segment,),
    )
    assert convert.version_from_pb(convert.version_to_pb(version)) == version
    assert convert.segment_from_pb(convert.segment_to_pb(segment)) == segment


def test_upload_round_trips() -> None:
    upload = MultipartUpload(
        bucket="b",
        key="k",
        upload_id="u" * 26,
        initiated=3.0,
        owner="alice",
        content_type="text/plain",
        user_metadata={"a": "1"},
        system_metadata={"cache-control": "no-cache"},
        checksum_algorithm="sha256",
        checksum_type="COMPOSITE",
    )
    assert convert.upload_from_pb(convert.upload_to_pb(upload)) == upload
