"""Multipart arithmetic: the ETag, S3's checksums, segment ranges (against a
naive byte model), and the checks a completion makes."""

from __future__ import annotations

import base64
import hashlib

import awscrt.checksums
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera import errors
from tessera.model import ObjectVersion, Segment, ShardLocation, version_from_json, version_to_json
from tessera.multipart import (
    COMPOSITE,
    FULL_OBJECT,
    ListedPart,
    checksum_type_for,
    choose_parts,
    multipart_etag,
    object_checksum,
    part_range,
    segment_ranges,
)

MiB = 1024 * 1024


def part(number: int, data: bytes, **checksums: str) -> Segment:
    return Segment(
        shard_set_id=f"{number:026d}",
        part_number=number,
        size_bytes=len(data),
        etag=hashlib.md5(data).hexdigest(),
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=(ShardLocation(0, "n1"),),
        checksums=dict(checksums),
    )


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    bodies = [b"a" * 10, b"b" * 20]
    joined = b"".join(hashlib.md5(b).digest() for b in bodies)
    expected = hashlib.md5(joined).hexdigest() + "-2"
    assert multipart_etag([hashlib.md5(b).hexdigest() for b in bodies]) == expected


@pytest.mark.parametrize(
    ("algorithm", "requested", "expected"),
    [
        ("", "", ""),
        ("crc32", "", COMPOSITE),
        ("crc32", "full_object", FULL_OBJECT),
        ("crc32c", "COMPOSITE", COMPOSITE),
        ("crc64nvme", "", FULL_OBJECT),
        ("sha256", "", COMPOSITE),
    ],
)
def test_checksum_types(algorithm: str, requested: str, expected: str) -> None:
    assert checksum_type_for(algorithm, requested) == expected


@pytest.mark.parametrize(
    ("algorithm", "requested"),
    [
        ("", "COMPOSITE"),
        ("md5", ""),
        ("crc64nvme", "COMPOSITE"),
        ("sha1", "FULL_OBJECT"),
        ("crc32", "x"),
    ],
)
def test_refused_checksum_types(algorithm: str, requested: str) -> None:
    with pytest.raises(errors.InvalidRequest):
        checksum_type_for(algorithm, requested)


def _crc(algorithm: str, data: bytes) -> bytes:
    width = 8 if algorithm == "crc64nvme" else 4
    return int(getattr(awscrt.checksums, algorithm)(data)).to_bytes(width, "big")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme"])
def test_full_object_crc_equals_the_crc_of_the_whole(algorithm: str) -> None:
    bodies = [b"x" * 1000, b"hello world", b"\x00" * 77]
    parts = [part(i + 1, b, **{algorithm: _b64(_crc(algorithm, b))}) for i, b in enumerate(bodies)]
    whole = _b64(_crc(algorithm, b"".join(bodies)))
    assert object_checksum(algorithm, FULL_OBJECT, parts) == whole


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "sha1", "sha256"])
def test_composite_checksum_is_a_checksum_of_checksums(algorithm: str) -> None:
    bodies = [b"a" * 100, b"b" * 3]

    def digest(data: bytes) -> bytes:
        return (
            _crc(algorithm, data)
            if algorithm.startswith("crc")
            else hashlib.new(algorithm, data).digest()
        )

    parts = [part(i + 1, b, **{algorithm: _b64(digest(b))}) for i, b in enumerate(bodies)]
    expected = _b64(digest(b"".join(digest(b) for b in bodies))) + "-2"
    assert object_checksum(algorithm, COMPOSITE, parts) == expected


def test_no_checksum_without_an_algorithm_or_with_a_part_lacking_one() -> None:
    assert object_checksum("", "", [part(1, b"a")]) == ""
    assert object_checksum("crc32", COMPOSITE, [part(1, b"a")]) == ""


def test_choose_parts_checks_order_etags_and_sizes() -> None:
    stored = {1: part(1, b"a" * 10), 2: part(2, b"b" * 5), 3: part(3, b"c")}
    listed = [ListedPart(n, f'"{stored[n].etag}"') for n in (1, 2, 3)]
    assert choose_parts(listed, stored, 5) == [stored[1], stored[2], stored[3]]
    assert choose_parts([listed[0], listed[2]], stored, 10) == [stored[1], stored[3]]
    with pytest.raises(errors.EntityTooSmall):
        choose_parts(listed, stored, 6)
    with pytest.raises(errors.InvalidPartOrder):
        choose_parts([listed[1], listed[0]], stored, 1)
    with pytest.raises(errors.InvalidPartOrder):
        choose_parts([listed[0], listed[0]], stored, 1)
    with pytest.raises(errors.InvalidPart):
        choose_parts([ListedPart(1, "0" * 32)], stored, 1)
    with pytest.raises(errors.InvalidPart):
        choose_parts([ListedPart(4, stored[1].etag)], stored, 1)
    with pytest.raises(errors.MalformedXML):
        choose_parts([], stored, 1)
    summed = {1: part(1, b"a", crc32="AAAAAA==")}
    with pytest.raises(errors.InvalidPart):
        choose_parts([ListedPart(1, summed[1].etag, {"crc32": "BBBBBB=="})], summed, 1)


@given(
    sizes=st.lists(st.integers(0, 50), min_size=1, max_size=8).filter(lambda s: sum(s) > 0),
    data=st.data(),
)
def test_segment_ranges_match_a_byte_model(sizes: list[int], data: st.DataObject) -> None:
    total = sum(sizes)
    first = data.draw(st.integers(0, total - 1))
    last = data.draw(st.integers(first, total - 1))
    owner = [(i, offset) for i, size in enumerate(sizes) for offset in range(size)]
    got = [
        (index, offset)
        for index, lo, hi in segment_ranges(sizes, first, last)
        for offset in range(lo, hi + 1)
    ]
    assert got == owner[first : last + 1]


def test_part_range() -> None:
    assert part_range([5, 7, 1], 0) == (0, 4)
    assert part_range([5, 7, 1], 1) == (5, 11)
    assert part_range([5, 7, 1], 2) == (12, 12)


def test_shard_sets_of_single_and_multipart_versions() -> None:
    common = dict(
        bucket="b",
        key="k",
        etag="e",
        content_type="t",
        last_modified=1.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
    )
    single = ObjectVersion(
        version_id="v" * 26, size_bytes=9, placement=(ShardLocation(0, "n1"),), **common
    )  # type: ignore[arg-type]
    assert [(s.shard_set_id, s.size_bytes) for s in single.shard_sets()] == [("v" * 26, 9)]
    empty = ObjectVersion(version_id="e" * 26, size_bytes=0, placement=(), **common)  # type: ignore[arg-type]
    assert empty.shard_sets() == []
    segments = (part(1, b"a" * 5), part(2, b"b" * 3, crc32="AAAAAA=="))
    multi = ObjectVersion(
        version_id="m" * 26, size_bytes=8, placement=(), segments=segments, **common
    )  # type: ignore[arg-type]
    assert [(s.shard_set_id, s.size_bytes) for s in multi.shard_sets()] == [
        (segments[0].shard_set_id, 5),
        (segments[1].shard_set_id, 3),
    ]
    assert version_from_json(version_to_json(multi)) == multi
    assert b"segments" not in version_to_json(single)
    assert version_from_json(version_to_json(single)) == single
