"""The shard file layout: header round trip, validation, offsets and the
format-2 trailer block."""

from __future__ import annotations

import dataclasses

import pytest

from node.errors import InvalidShard
from node.shard_format import (
    PREFIX,
    RECORD,
    TRAILER,
    FormatError,
    check_trailer,
    decode_header,
    decode_prefix,
    decode_trailer_prefix,
    encode_header,
    encode_trailer,
    expected_file_size_bytes,
    record_offset_bytes,
    trailer_offset_bytes,
    validate,
    validate_shard_id,
)


def test_header_round_trip(make_shard):
    meta = make_shard(object_size_bytes=12345).meta
    raw = encode_header(meta)
    assert raw[:4] == b"TSHD" and raw[4] == 2
    format_version, header_length, header_crc = decode_prefix(raw[: PREFIX.size])
    assert format_version == 2
    assert header_length == len(raw) - PREFIX.size
    assert decode_header(raw[PREFIX.size :], header_crc) == meta


def test_header_keeps_unicode_keys(make_shard):
    meta = dataclasses.replace(make_shard().meta, key="dossier/été/😀.txt")
    raw = encode_header(meta)
    _, _, header_crc = decode_prefix(raw[: PREFIX.size])
    assert decode_header(raw[PREFIX.size :], header_crc).key == "dossier/été/😀.txt"


def test_flipped_header_byte_is_detected(make_shard):
    raw = bytearray(encode_header(make_shard().meta))
    raw[PREFIX.size + 5] ^= 0x01
    _, _, header_crc = decode_prefix(bytes(raw[: PREFIX.size]))
    with pytest.raises(FormatError, match="checksum"):
        decode_header(bytes(raw[PREFIX.size :]), header_crc)


def test_a_header_met_before_is_not_parsed_again_and_a_damaged_one_still_fails(make_shard):
    raw = encode_header(make_shard().meta)
    _, _, header_crc = decode_prefix(raw[: PREFIX.size])
    header = bytearray(raw[PREFIX.size :])  # as a page-cache read returns it
    first = decode_header(header, header_crc)
    assert decode_header(bytes(header), header_crc) is first  # kept, not parsed again
    with pytest.raises(FormatError, match="checksum"):  # the same bytes, another CRC
        decode_header(bytes(header), header_crc ^ 1)
    header[7] ^= 0x01
    with pytest.raises(FormatError, match="checksum"):
        decode_header(header, header_crc)


@pytest.mark.parametrize(
    "prefix",
    [
        b"XSHD\x01" + bytes(8),
        PREFIX.pack(b"TSHD", 3, 10, 0),
        PREFIX.pack(b"TSHD", 0, 10, 0),
        PREFIX.pack(b"TSHD", 1, 0, 0),
        PREFIX.pack(b"TSHD", 1, 1 << 30, 0),
        b"TSHD",
    ],
)
def test_bad_prefixes_are_rejected(prefix):
    with pytest.raises(FormatError):
        decode_prefix(prefix)


@pytest.mark.parametrize(
    "change",
    [
        {"version_id": "../../etc/passwd"},
        {"version_id": "A" * 26},
        {"shard_index": 3},  # 2 + 1 shards
        {"data_shards": 0},
        {"chunk_size_bytes": 0},
        {"stripe_count": 99},
        {"object_size_bytes": -1},
        {"bucket": ""},
        {"key": "k" * 1025},
    ],
)
def test_inconsistent_headers_are_rejected(make_shard, change):
    with pytest.raises(InvalidShard):
        validate(dataclasses.replace(make_shard().meta, **change))


@pytest.mark.parametrize("shard_index", [-1, 256, 10**9])
def test_shard_index_must_fit(shard_index):
    with pytest.raises(InvalidShard):
        validate_shard_id("0" * 26, shard_index)


def test_record_offsets_follow_fixed_chunk_size(make_shard):
    meta = make_shard(object_size_bytes=1000, chunk_size_bytes=64).meta
    header_length = len(encode_header(meta)) - PREFIX.size
    first = PREFIX.size + header_length
    assert record_offset_bytes(header_length, 64, 0) == first
    assert record_offset_bytes(header_length, 64, 3) == first + 3 * (RECORD.size + 64)


def test_last_chunk_length_comes_from_geometry(make_shard):
    # 1000 bytes in stripes of 2 * 64: 7 full stripes, then 104 bytes -> 52-byte chunks.
    meta = make_shard(object_size_bytes=1000, chunk_size_bytes=64).meta
    assert meta.stripe_count == 8
    assert [meta.chunk_length_bytes(i) for i in range(8)] == [64] * 7 + [52]
    header_length = len(encode_header(meta)) - PREFIX.size
    records = 8 * 8 + 7 * 64 + 52
    assert expected_file_size_bytes(meta, 1) == PREFIX.size + header_length + records
    assert trailer_offset_bytes(meta, header_length) == PREFIX.size + header_length + records
    assert expected_file_size_bytes(meta, 2, 30) == PREFIX.size + header_length + records + 8 + 30


def test_empty_object_has_header_and_trailer_block_only(make_shard):
    meta = make_shard(object_size_bytes=0).meta
    assert meta.stripe_count == 0
    assert expected_file_size_bytes(meta, 1) == len(encode_header(meta, 1))
    assert expected_file_size_bytes(meta) == len(encode_header(meta)) + TRAILER.size


def test_format_1_prefix_is_still_read(make_shard):
    meta = make_shard().meta
    raw = encode_header(meta, 1)
    assert raw[4] == 1
    format_version, _, header_crc = decode_prefix(raw[: PREFIX.size])
    assert format_version == 1
    assert decode_header(raw[PREFIX.size :], header_crc) == meta


@pytest.mark.parametrize("trailer", [b"", b"{}", '{"etag":"é"}'.encode() * 100])
def test_trailer_block_round_trip(trailer):
    block = encode_trailer(trailer)
    length, trailer_crc = decode_trailer_prefix(block[: TRAILER.size])
    assert length == len(trailer)
    assert check_trailer(block[TRAILER.size :], trailer_crc) == trailer


def test_flipped_trailer_byte_is_detected():
    block = bytearray(encode_trailer(b'{"etag":"abc"}'))
    block[-3] ^= 0x01
    _, trailer_crc = decode_trailer_prefix(bytes(block[: TRAILER.size]))
    with pytest.raises(FormatError, match="checksum"):
        check_trailer(bytes(block[TRAILER.size :]), trailer_crc)


def test_oversized_trailers_are_refused():
    with pytest.raises(InvalidShard):
        encode_trailer(b"x" * (64 * 1024 + 1))
    with pytest.raises(FormatError):
        decode_trailer_prefix(TRAILER.pack(1 << 30, 0))
