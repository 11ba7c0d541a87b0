"""A listing's summary of a version keeps what a listing shows and drops
where the data is (placement, segments, inline bytes) and user metadata —
decoded from the stored record, sent over gRPC and read back."""

from __future__ import annotations

import dataclasses
import json

from proto import convert
from tessera.model import (
    ObjectVersion,
    ShardLocation,
    VersionSummary,
    version_from_json,
    version_summary_from_json,
    version_to_json,
)

VERSION = ObjectVersion(
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


def _same_listing_fields(summary: VersionSummary, version: ObjectVersion) -> None:
    for f in dataclasses.fields(VersionSummary):
        assert getattr(summary, f.name) == getattr(version, f.name), f.name


def test_a_summary_keeps_what_a_listing_shows_and_nothing_else() -> None:
    raw = version_to_json(VERSION)
    summary = version_summary_from_json(raw)
    _same_listing_fields(summary, VERSION)
    message = convert.summary_records_to_pb([raw], ["d/"], True, "x")
    (record,) = message.objects
    assert record.key == VERSION.key
    assert not record.placement and not record.user_metadata and not record.content_type
    assert convert.version_summary_from_pb(record) == summary
    assert list(message.common_prefixes) == ["d/"]
    assert message.is_truncated and message.next_start_after == "x"


def test_records_go_to_messages_as_their_summaries_do() -> None:
    old = json.loads(version_to_json(VERSION))  # a record from before these fields
    for name in ("s3_version_id", "delete_marker", "system_metadata"):
        del old[name]
    marker = dataclasses.replace(
        VERSION, key="gone.txt", delete_marker=True, size_bytes=0, system_metadata={}
    )
    raws = [version_to_json(VERSION), json.dumps(old).encode(), version_to_json(marker)]
    message = convert.summary_records_to_pb(raws, [], False, "")
    assert [convert.version_summary_from_pb(r) for r in message.objects] == [
        version_summary_from_json(raw) for raw in raws
    ]
    assert not message.is_truncated and not message.common_prefixes


def test_a_summary_decodes_every_record_shape_a_whole_decode_does() -> None:
    # an old record without the fields added since (versioning, system metadata)
    stored = json.loads(version_to_json(VERSION))
    for name in ("s3_version_id", "delete_marker", "system_metadata"):
        del stored[name]
    raw = json.dumps(stored).encode()
    _same_listing_fields(version_summary_from_json(raw), version_from_json(raw))
    # a key that is not valid UTF-8 (kept with surrogateescape) and a delete marker
    odd = dataclasses.replace(VERSION, key="bad-\udcff-key", delete_marker=True)
    raw = version_to_json(odd)
    assert version_from_json(raw).key == "bad-\udcff-key"
    _same_listing_fields(version_summary_from_json(raw), odd)


def test_columns_carry_what_a_listing_shows_of_every_record_shape() -> None:
    old = json.loads(version_to_json(VERSION))  # a record from before system metadata
    for name in ("s3_version_id", "delete_marker", "system_metadata"):
        del old[name]
    standard = dataclasses.replace(VERSION, key="plain.txt", system_metadata={"x-amz-meta": "1"})
    raws = [version_to_json(VERSION), json.dumps(old).encode(), version_to_json(standard)]
    message = convert.summary_records_to_columns(raws, ["d/"], True, "x")
    message = type(message).FromString(message.SerializeToString())  # as it travels
    c = message.columns
    assert list(c.keys) == [VERSION.key, VERSION.key, "plain.txt"]
    assert list(c.last_modified) == [VERSION.last_modified] * 3
    assert list(c.etags) == [VERSION.etag] * 3
    assert list(c.size_bytes) == [VERSION.size_bytes] * 3
    assert list(c.storage_classes) == ["REDUCED_REDUNDANCY", "STANDARD", "STANDARD"]
    assert not message.objects
    assert list(message.common_prefixes) == ["d/"]
    assert message.is_truncated and message.next_start_after == "x"
