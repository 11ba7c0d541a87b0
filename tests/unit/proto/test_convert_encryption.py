"""Encryption records survive the protobuf edge and JSON both ways, and an
encrypted version reports its shard sets at their sealed size."""

from __future__ import annotations

from proto import convert
from tessera.geometry import Geometry
from tessera.model import (
    BucketInfo,
    KmsKeyInfo,
    ObjectVersion,
    Segment,
    ShardLocation,
    bucket_from_json,
    kms_key_from_json,
    kms_key_to_json,
    record_to_json,
)
from tessera.sse import sealed_size_bytes
from tessera.sse_keys import WRAPPED_DATA_KEY

GEOMETRY = Geometry(4, 2, 256 * 1024)
PLACEMENT = tuple(ShardLocation(i, f"n{i}") for i in range(6))


def test_kms_keys_and_bucket_defaults_round_trip() -> None:
    key = KmsKeyInfo("id-1", "team", b"\x00\x01wrapped", 3.5)
    assert convert.kms_key_from_pb(convert.kms_key_to_pb(key)) == key
    assert kms_key_from_json(kms_key_to_json(key)) == key
    bucket = BucketInfo("b", "o", 1.0, encryption='{"algorithm": "AES256", "kms_key_id": ""}')
    assert convert.bucket_from_pb(convert.bucket_to_pb(bucket)) == bucket
    assert bucket_from_json(record_to_json(bucket)) == bucket
    old = b'{"name":"b","owner":"o","created_at":1.0}'  # a record from before the field
    assert bucket_from_json(old).encryption == ""


def _version(system: dict[str, str], segments: tuple[Segment, ...] = ()) -> ObjectVersion:
    size = sum(s.size_bytes for s in segments) if segments else 3 * 1024 * 1024 + 5
    return ObjectVersion(
        bucket="b",
        key="k",
        version_id="v" * 26,
        size_bytes=size,
        etag="e",
        content_type="t",
        last_modified=1.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=() if segments else PLACEMENT,
        system_metadata=system,
        segments=segments,
    )


def test_shard_sets_of_an_encrypted_version_are_sealed_streams() -> None:
    plain = _version({})
    sealed = _version({WRAPPED_DATA_KEY: "d3JhcHBlZA=="})
    assert not plain.is_encrypted and sealed.is_encrypted
    assert plain.shard_sets()[0].size_bytes == plain.size_bytes
    assert sealed.shard_sets()[0].size_bytes == sealed_size_bytes(sealed.size_bytes, GEOMETRY)
    assert sealed.plain_sizes() == [sealed.size_bytes]
    parts = tuple(
        Segment(f"s{i}", i + 1, size, "e", 4, 2, 256 * 1024, PLACEMENT)
        for i, size in enumerate((5 * 1024 * 1024, 17))
    )
    multipart = _version({WRAPPED_DATA_KEY: "d3JhcHBlZA=="}, parts)
    assert [s.size_bytes for s in multipart.shard_sets()] == [
        sealed_size_bytes(p.size_bytes, GEOMETRY) for p in parts
    ]
    assert multipart.plain_sizes() == [p.size_bytes for p in parts]
    assert convert.version_from_pb(convert.version_to_pb(multipart)) == multipart
