"""The stored form of version and segment records is a format: records written
by earlier code are read by later code and the other way round. Encoding
without dataclasses.asdict (faster) must give byte for byte what asdict gave,
and the log and outcome forms must decode to the records they encoded."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from metadata import logformat, mutations, outcome
from tessera.model import (
    BUCKET_RECORD_CACHED_BYTES_MAX,
    BucketInfo,
    ObjectVersion,
    Segment,
    ShardLocation,
    bucket_from_json,
    record_to_json,
    segment_to_dict,
    version_from_json,
    version_to_dict,
    version_to_json,
)

PLACEMENT = tuple(ShardLocation(i, f"node-{i}") for i in range(6))
SEGMENT = Segment(
    shard_set_id="s1",
    part_number=1,
    size_bytes=5 << 20,
    etag="e" * 32,
    data_shards=4,
    parity_shards=2,
    chunk_size_bytes=1 << 20,
    placement=PLACEMENT,
    last_modified=1_700_000_000.5,
    checksums={"crc32": "AAAAAA=="},
)
VERSIONS = [
    ObjectVersion(
        bucket="b",
        key="k/é\udcff",
        version_id="06h1coov7pkeukuk83rog1dg24",
        size_bytes=4096,
        etag="0123abcd" * 4,
        content_type="text/plain",
        last_modified=1_700_000_000.123,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=1 << 20,
        placement=(),
        user_metadata={"a": "1"},
        system_metadata={"x-amz-checksum-crc32": "abcd=="},
        request_id="0123456789ABCDEF",
        inline_data=bytes(range(256)),
        tags={"t": "v"},
        acl="public-read",
        lock_mode="GOVERNANCE",
        retain_until=1_800_000_000.0,
        legal_hold=True,
    ),
    ObjectVersion(
        bucket="b",
        key="multi",
        version_id="06h1coov7pkeukuk83rog1dg25",
        size_bytes=5 << 20,
        etag="f" * 32 + "-1",
        content_type="",
        last_modified=1_700_000_001.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=1 << 20,
        placement=PLACEMENT,
        segments=(SEGMENT,),
        s3_version_id="null",
        delete_marker=False,
    ),
]


def _asdict_version(v: ObjectVersion) -> dict[str, Any]:
    """version_to_dict as it was written with dataclasses.asdict."""
    d: dict[str, Any] = dataclasses.asdict(v)
    d["placement"] = [[p.shard_index, p.node_id] for p in v.placement]
    d["inline_data"] = v.inline_data.hex()
    if v.segments:
        d["segments"] = [_asdict_segment(s) for s in v.segments]
    else:
        del d["segments"]
    if not v.acl:
        del d["acl"]
    for name in ("lock_mode", "retain_until", "legal_hold"):
        if not d[name]:
            del d[name]
    return d


def _asdict_segment(s: Segment) -> dict[str, Any]:
    d: dict[str, Any] = dataclasses.asdict(s)
    d["placement"] = [[p.shard_index, p.node_id] for p in s.placement]
    return d


def test_a_stored_version_is_byte_for_byte_what_it_always_was() -> None:
    for v in VERSIONS:
        want = json.dumps(_asdict_version(v), separators=(",", ":")).encode()
        assert version_to_json(v) == want
        assert version_from_json(want) == v


def test_a_segment_dict_is_what_it_always_was() -> None:
    assert segment_to_dict(SEGMENT) == _asdict_segment(SEGMENT)


def test_an_encoded_dict_does_not_share_the_records_dicts() -> None:
    v = VERSIONS[0]
    d = json.loads(version_to_json(v))
    assert d["user_metadata"] == v.user_metadata
    copied = version_to_dict(v)
    copied["user_metadata"]["a"] = "changed"
    assert v.user_metadata == {"a": "1"}


def test_put_object_entries_and_outcomes_round_trip() -> None:
    puts = [mutations.PutObject(request_id=f"r{i}", version=v) for i, v in enumerate(VERSIONS)]
    entry = logformat.decode(logformat.encode("batch-1", puts))
    assert entry.mutations == tuple(puts)
    for v in VERSIONS:
        assert outcome.decode(outcome.encode(outcome.Outcome(result=v))).result == v


def test_bucket_records_decode_to_their_fields_whether_kept_or_not() -> None:
    # Decoded bucket records are kept by their bytes (tessera.model): equal
    # bytes give the record decoded before; other bytes, even of a changed
    # field only, give their own; a record over the size kept is decoded each
    # time, and decodes the same.
    bucket = BucketInfo(name="b", owner="o", created_at=1.5, versioning="Enabled")
    raw = record_to_json(bucket)
    assert bucket_from_json(raw) == bucket
    assert bucket_from_json(bytes(bytearray(raw))) is bucket_from_json(raw)
    changed = dataclasses.replace(bucket, versioning="Suspended", acl="public-read")
    assert bucket_from_json(record_to_json(changed)) == changed
    assert bucket_from_json(raw).versioning == "Enabled"
    large = dataclasses.replace(bucket, policy="p" * BUCKET_RECORD_CACHED_BYTES_MAX)
    large_raw = record_to_json(large)
    assert bucket_from_json(large_raw) == large
    assert bucket_from_json(large_raw) is not bucket_from_json(large_raw)
