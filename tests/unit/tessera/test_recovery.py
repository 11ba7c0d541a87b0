"""tessera.recovery: the trailer codec and the rebuild plan from listed shards."""

from __future__ import annotations

import itertools
import json

import pytest

from tessera.geometry import Geometry
from tessera.ids import new_version_id
from tessera.model import ObjectVersion, Segment, ShardLocation
from tessera.recovery import (
    SKIP_INCONSISTENT,
    SKIP_NO_TRAILER,
    SKIP_PART,
    SKIP_PART_MISSING,
    SKIP_SUPERSEDED,
    SKIP_TOO_FEW_SHARDS,
    BucketHints,
    ListedShard,
    TrailerError,
    decode_trailer,
    encode_part_trailer,
    encode_trailer,
    plan,
    without_expired_lock,
)
from tessera.sse import sealed_size_bytes
from tessera.sse_keys import WRAPPED_DATA_KEY

GEOMETRY = Geometry(2, 1, 64)
OWNER = "AKIAROOT"
PLAIN = BucketHints(OWNER)
_clock = itertools.count(1700000000)


def later_id() -> str:
    """A version id one second after the last one (ids of one millisecond
    order randomly)."""
    return new_version_id(float(next(_clock)))


def version(key: str = "k", size: int = 1000, **fields: object) -> ObjectVersion:
    base: dict[str, object] = {
        "bucket": "b",
        "key": key,
        "version_id": later_id(),
        "size_bytes": size,
        "etag": "0123456789abcdef0123456789abcdef",
        "content_type": "text/plain",
        "last_modified": 1700000000.5,
        "data_shards": GEOMETRY.data_shards,
        "parity_shards": GEOMETRY.parity_shards,
        "chunk_size_bytes": GEOMETRY.chunk_size_bytes,
        "placement": (),
        "user_metadata": {"author": "ada"},
        "system_metadata": {"cache-control": "max-age=60"},
        "tags": {"stage": "final"},
        "acl": "public-read",
    }
    base.update(fields)
    return ObjectVersion(**base)  # type: ignore[arg-type]


def shards_of(
    v: ObjectVersion,
    hints: BucketHints = PLAIN,
    indexes: range | list[int] = range(3),
    trailer: bytes | None = None,
    stored_size: int | None = None,
) -> list[ListedShard]:
    raw = encode_trailer(v, hints) if trailer is None else trailer
    return [
        ListedShard(
            node_id=f"node-{i}",
            bucket=v.bucket,
            key=v.key,
            version_id=v.version_id,
            shard_index=i,
            geometry=GEOMETRY,
            object_size_bytes=v.size_bytes if stored_size is None else stored_size,
            trailer=raw,
        )
        for i in indexes
    ]


def test_trailer_round_trip_keeps_every_record_field() -> None:
    v = version(lock_mode="GOVERNANCE", retain_until=1800000000.0, legal_hold=True)
    t = decode_trailer(encode_trailer(v, BucketHints(OWNER, "Enabled", True)))
    assert t.bucket == BucketHints(OWNER, "Enabled", True)
    assert (t.size_bytes, t.etag, t.content_type, t.last_modified) == (
        v.size_bytes,
        v.etag,
        v.content_type,
        v.last_modified,
    )
    assert (t.user_metadata, t.system_metadata, t.tags, t.acl) == (
        v.user_metadata,
        v.system_metadata,
        v.tags,
        v.acl,
    )
    assert (t.lock_mode, t.retain_until, t.legal_hold) == ("GOVERNANCE", 1800000000.0, True)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"f": 99}',
        json.dumps({"f": 1, "kind": "unknown"}).encode(),
        json.dumps({"f": 1, "kind": "version"}).encode(),  # fields missing
    ],
)
def test_bad_trailers_are_refused(raw: bytes) -> None:
    with pytest.raises(TrailerError):
        decode_trailer(raw)


def test_bad_field_types_are_refused() -> None:
    fields = json.loads(encode_trailer(version(), BucketHints(OWNER)))
    fields["user_metadata"] = {"a": 1}
    with pytest.raises(TrailerError):
        decode_trailer(json.dumps(fields).encode())
    fields = json.loads(encode_trailer(version(), BucketHints(OWNER)))
    fields["bucket_versioning"] = "Sometimes"
    with pytest.raises(TrailerError):
        decode_trailer(json.dumps(fields).encode())


def test_a_version_is_rebuilt_with_its_placement() -> None:
    v = version()
    result = plan(shards_of(v))
    assert result.skipped == []
    assert [(b.name, b.owner, b.versioning) for b in result.buckets] == [("b", OWNER, "")]
    (rebuilt,) = result.versions
    assert rebuilt.placement == tuple(ShardLocation(i, f"node-{i}") for i in range(3))
    assert rebuilt == ObjectVersion(
        **{**v.__dict__, "placement": rebuilt.placement}  # everything else as written
    )


def test_k_shards_are_enough_fewer_are_not() -> None:
    enough, short = version("enough"), version("short")
    result = plan([*shards_of(enough, indexes=[0, 2]), *shards_of(short, indexes=[1])])
    assert [v.key for v in result.versions] == ["enough"]
    assert [(s.key, s.reason) for s in result.skipped] == [("short", SKIP_TOO_FEW_SHARDS)]


def test_duplicate_shards_count_once() -> None:
    v = version()
    (one,) = shards_of(v, indexes=[1])
    twice = [one, ListedShard(**{**one.__dict__, "node_id": "node-9"})]
    assert plan(twice).skipped[0].reason == SKIP_TOO_FEW_SHARDS


def test_one_readable_trailer_is_enough() -> None:
    v = version()
    listed = shards_of(v)
    listed[0] = ListedShard(**{**listed[0].__dict__, "trailer": b""})
    listed[1] = ListedShard(**{**listed[1].__dict__, "trailer": b"garbage"})
    assert len(plan(listed).versions) == 1
    assert plan(shards_of(v, trailer=b"")).skipped[0].reason == SKIP_NO_TRAILER


def test_inconsistent_headers_are_skipped() -> None:
    v = version()
    listed = shards_of(v)
    listed[2] = ListedShard(**{**listed[2].__dict__, "key": "other"})
    assert plan(listed).skipped[0].reason == SKIP_INCONSISTENT


def test_trailer_must_match_the_stored_size() -> None:
    v = version()
    assert plan(shards_of(v, stored_size=999)).skipped[0].reason == SKIP_NO_TRAILER


def test_an_encrypted_version_stores_its_sealed_size() -> None:
    v = version(system_metadata={WRAPPED_DATA_KEY: "d3JhcHBlZA=="})
    sealed = sealed_size_bytes(v.size_bytes, GEOMETRY)
    assert sealed != v.size_bytes
    (rebuilt,) = plan(shards_of(v, stored_size=sealed)).versions
    assert rebuilt.size_bytes == v.size_bytes and rebuilt.is_encrypted


def test_unversioned_bucket_keeps_only_the_newest_version_of_a_key() -> None:
    old, new = version(), version()
    assert old.version_id < new.version_id
    result = plan([*shards_of(new), *shards_of(old)])
    assert [v.version_id for v in result.versions] == [new.version_id]
    assert [(s.version_id, s.reason) for s in result.skipped] == [(old.version_id, SKIP_SUPERSEDED)]


def test_versioned_bucket_keeps_every_version_oldest_first() -> None:
    hints = BucketHints(OWNER, "Enabled")
    first, second, third = version(), version(), version()
    listed = [*shards_of(third, hints), *shards_of(first, hints), *shards_of(second, hints)]
    result = plan(listed)
    assert [v.version_id for v in result.versions] == [
        first.version_id,
        second.version_id,
        third.version_id,
    ]
    assert result.buckets[0].versioning == "Enabled"


def test_the_newest_version_speaks_for_the_bucket() -> None:
    older = version("a")
    newer = version("b")
    listed = [
        *shards_of(older, BucketHints("someone-else", "")),
        *shards_of(newer, BucketHints(OWNER, "Suspended")),
    ]
    (bucket,) = plan(listed).buckets
    assert (bucket.owner, bucket.versioning) == (OWNER, "Suspended")


def test_an_ended_retention_is_dropped_a_running_one_kept() -> None:
    ended = version(lock_mode="GOVERNANCE", retain_until=100.0)
    running = version(lock_mode="COMPLIANCE", retain_until=300.0)
    assert without_expired_lock(ended, 200.0).lock_mode == ""
    assert without_expired_lock(running, 200.0) == running


def part_shards(
    upload_id: str, number: int, size: int, indexes: range | list[int] = range(3)
) -> tuple[Segment, list[ListedShard]]:
    set_id = later_id()
    segment = Segment(
        shard_set_id=set_id,
        part_number=number,
        size_bytes=size,
        etag=f"{number:032x}",
        data_shards=GEOMETRY.data_shards,
        parity_shards=GEOMETRY.parity_shards,
        chunk_size_bytes=GEOMETRY.chunk_size_bytes,
        placement=(),
        last_modified=1700000000.0,
        checksums={"crc32": "AAAAAA=="},
    )
    trailer = encode_part_trailer(upload_id, number, segment.etag)
    listed = [
        ListedShard(f"node-{i}", "b", "big", set_id, i, GEOMETRY, size, trailer) for i in indexes
    ]
    return segment, listed


def manifest_shards(whole: ObjectVersion, indexes: list[int]) -> list[ListedShard]:
    return [
        ListedShard(
            f"node-{i}",
            whole.bucket,
            whole.key,
            whole.version_id,
            i,
            GEOMETRY,
            0,
            encode_trailer(whole, PLAIN),
        )
        for i in indexes
    ]


def test_a_multipart_version_is_rebuilt_from_its_manifest_and_parts() -> None:
    one, one_shards = part_shards("up-1", 1, 5000)
    two, two_shards = part_shards("up-1", 2, 700, indexes=[1, 2])
    whole = version("big", size=5700, etag="f" * 32 + "-2", segments=(one, two))
    result = plan([*one_shards, *two_shards, *manifest_shards(whole, [4])])
    assert result.skipped == []  # the parts are the version's, not leftovers
    (rebuilt,) = result.versions
    assert [s.placement for s in rebuilt.segments] == [
        tuple(ShardLocation(i, f"node-{i}") for i in range(3)),
        tuple(ShardLocation(i, f"node-{i}") for i in (1, 2)),
    ]
    assert rebuilt.segments[0].checksums == {"crc32": "AAAAAA=="}
    assert (rebuilt.size_bytes, rebuilt.etag, rebuilt.placement) == (5700, whole.etag, ())


def test_a_multipart_version_with_an_unreadable_part_is_skipped() -> None:
    one, one_shards = part_shards("up-1", 1, 5000)
    two, two_shards = part_shards("up-1", 2, 700, indexes=[2])
    whole = version("big", size=5700, segments=(one, two))
    result = plan([*one_shards, *two_shards, *manifest_shards(whole, [0, 1])])
    assert result.versions == []
    assert [(s.version_id, s.reason) for s in result.skipped] == [
        (one.shard_set_id, SKIP_PART),
        (two.shard_set_id, SKIP_PART),
        (whole.version_id, SKIP_PART_MISSING),
    ]


def test_parts_without_a_manifest_are_skipped_as_parts() -> None:
    _, shards = part_shards("up-2", 1, 5000)
    assert [s.reason for s in plan(shards).skipped] == [SKIP_PART]


def test_a_manifest_must_list_segments() -> None:
    fields = json.loads(encode_trailer(version(segments=(part_shards("u", 1, 9)[0],)), PLAIN))
    assert fields["kind"] == "multipart"
    fields["segments"] = []
    with pytest.raises(TrailerError):
        decode_trailer(json.dumps(fields).encode())
