"""The on-disk layout of one shard file. Pure: bytes in, bytes out, no I/O.

A shard file is self-describing, so the object index can be rebuilt from the
nodes alone::

    offset 0   magic            4 bytes  b"TSHD"
           4   format version   u8       2 (1: older files, no trailer block)
           5   header length    u32 LE   bytes of the JSON header that follows
           9   header crc32c    u32 LE   CRC32C of those header bytes
          13   header           JSON (UTF-8, sorted keys): bucket, key,
                                version_id, shard_index, data_shards,
                                parity_shards, chunk_size_bytes,
                                object_size_bytes, stripe_count
    then, for stripe 0 .. stripe_count-1, one chunk record:
               length           u32 LE   bytes of data
               crc32c           u32 LE   CRC32C of data
               data             length bytes
    then (format 2 only) the trailer block:
               length           u32 LE   bytes of the trailer (0: none)
               crc32c           u32 LE   CRC32C of the trailer bytes
               trailer          the version record's fields as the gateway
                                knew them at the end of the body (JSON,
                                tessera/recovery.py); opaque to the node

Invariant: every chunk but the last is exactly chunk_size_bytes long, and the
last is the length the stripe geometry gives (tessera.geometry), so the record
of stripe s starts at 13 + header length + s * (8 + chunk_size_bytes), the
trailer block (format 2) starts right after the last record, and the whole
file is exactly expected_file_size_bytes(meta, format, trailer length) long.
The trailer is written before the file is fsynced, so a durable format-2
shard always has its trailer block (docs/metadata-recovery.md).
"""

from __future__ import annotations

import functools
import json
import struct
from dataclasses import asdict, dataclass

from node.errors import InvalidShard
from tessera import limits
from tessera.checksum import crc32c
from tessera.geometry import Geometry
from tessera.ids import is_version_id

MAGIC = b"TSHD"
FORMAT_VERSION = 2  # what new shards are written as
FORMAT_VERSIONS = (1, 2)  # what is read
PREFIX = struct.Struct("<4sBII")  # magic, format version, header length, header crc32c
RECORD = struct.Struct("<II")  # chunk length, chunk crc32c
TRAILER = struct.Struct("<II")  # trailer length, trailer crc32c
TRAILER_LENGTH_MAX_BYTES = 64 * 1024
HEADER_LENGTH_MAX_BYTES = 16 * 1024
# Decoded headers kept (decode_header): about 1 KiB each with their key.
HEADERS_DECODED_MAX = 8192
SHARDS_PER_VERSION_MAX = 256
CHUNK_SIZE_MAX_BYTES = limits.GRPC_MESSAGE_MAX_BYTES // 2  # a chunk plus framing fits a message


class FormatError(ValueError):
    """Bytes that do not parse as a shard file (the store reports ShardCorrupt)."""


@dataclass(frozen=True, slots=True)
class ShardMeta:
    """The header of one shard: which object it belongs to, and its geometry."""

    bucket: str
    key: str
    version_id: str
    shard_index: int
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    object_size_bytes: int
    stripe_count: int

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.data_shards, self.parity_shards, self.chunk_size_bytes)

    @property
    def is_parity(self) -> bool:
        """A parity shard: read only when a data shard is missing, corrupt or slow."""
        return self.shard_index >= self.data_shards

    def chunk_length_bytes(self, stripe_index: int) -> int:
        """The exact length chunk stripe_index of this shard must have."""
        assert 0 <= stripe_index < self.stripe_count, (stripe_index, self.stripe_count)
        return self.geometry.chunk_bytes(self.object_size_bytes, stripe_index)


def validate_shard_id(version_id: str, shard_index: int) -> None:
    """Raises InvalidShard unless (version_id, shard_index) names a safe file name."""
    if not is_version_id(version_id):
        raise InvalidShard(f"not a version id: {version_id[:64]!r}")
    if not 0 <= shard_index < SHARDS_PER_VERSION_MAX:
        raise InvalidShard(f"shard index {shard_index} out of range")


def validate(meta: ShardMeta) -> None:
    """Raises InvalidShard unless meta is a consistent shard header."""
    validate_shard_id(meta.version_id, meta.shard_index)
    if not meta.bucket or len(meta.bucket) > limits.BUCKET_NAME_LENGTH_MAX:
        raise InvalidShard(f"bad bucket name length {len(meta.bucket)}")
    if not meta.key or len(meta.key.encode()) > limits.KEY_LENGTH_MAX_BYTES:
        raise InvalidShard("bad key length")
    if not 1 <= meta.data_shards <= 128 or not 0 <= meta.parity_shards <= 128:
        raise InvalidShard(f"bad geometry {meta.data_shards}+{meta.parity_shards}")
    total = meta.data_shards + meta.parity_shards
    if total > SHARDS_PER_VERSION_MAX or meta.shard_index >= total:
        raise InvalidShard(f"shard index {meta.shard_index} not below {total} shards")
    if not 0 < meta.chunk_size_bytes <= CHUNK_SIZE_MAX_BYTES:
        raise InvalidShard(f"chunk size {meta.chunk_size_bytes} out of range")
    if not 0 <= meta.object_size_bytes <= limits.OBJECT_SIZE_MAX_BYTES:
        raise InvalidShard(f"object size {meta.object_size_bytes} out of range")
    expected = meta.geometry.stripe_count(meta.object_size_bytes)
    if meta.stripe_count != expected:
        raise InvalidShard(
            f"stripe count {meta.stripe_count}; geometry gives {expected} "
            f"for {meta.object_size_bytes} bytes"
        )


def encode_header(meta: ShardMeta, format_version: int = FORMAT_VERSION) -> bytes:
    """The bytes a shard file starts with: prefix and header, before any chunk.
    format_version 1 only for tests of older files."""
    assert format_version in FORMAT_VERSIONS, format_version
    header = json.dumps(asdict(meta), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = header.encode()
    if len(raw) > HEADER_LENGTH_MAX_BYTES:
        raise InvalidShard(f"header of {len(raw)} bytes is too long")
    return PREFIX.pack(MAGIC, format_version, len(raw), crc32c(raw)) + raw


def decode_prefix(raw: bytes | bytearray) -> tuple[int, int, int]:
    """Parses the fixed prefix; returns (format version, header length, header crc32c)."""
    if len(raw) != PREFIX.size:
        raise FormatError(f"short prefix ({len(raw)} bytes)")
    magic, version, header_length, header_crc = PREFIX.unpack(raw)
    if magic != MAGIC:
        raise FormatError(f"bad magic {magic!r}")
    if version not in FORMAT_VERSIONS:
        raise FormatError(f"unknown format version {version}")
    if not 0 < header_length <= HEADER_LENGTH_MAX_BYTES:
        raise FormatError(f"bad header length {header_length}")
    return version, header_length, header_crc


@functools.lru_cache(maxsize=HEADERS_DECODED_MAX)
def _decoded(raw: bytes, header_crc: int) -> ShardMeta:
    return _decode_header(raw, header_crc)


def decode_header(raw: bytes | bytearray, header_crc: int) -> ShardMeta:
    """Parses and checks the JSON header whose CRC32C should be header_crc.

    Headers met before are not parsed again: the decoded ones are kept,
    keyed by their bytes and the CRC32C they were checked against (a hit is
    bytes that passed that check; ShardMeta is frozen). A node reads the same
    shards' headers over and over (every GET opens each shard it reads), and
    the JSON and the checks were a tenth of its loop's time at 1 MiB GETs."""
    return _decoded(bytes(raw), header_crc)


def _decode_header(raw: bytes, header_crc: int) -> ShardMeta:
    if crc32c(raw) != header_crc:
        raise FormatError("header checksum mismatch")
    try:
        fields = json.loads(raw)
        meta = ShardMeta(
            bucket=str(fields["bucket"]),
            key=str(fields["key"]),
            version_id=str(fields["version_id"]),
            shard_index=int(fields["shard_index"]),
            data_shards=int(fields["data_shards"]),
            parity_shards=int(fields["parity_shards"]),
            chunk_size_bytes=int(fields["chunk_size_bytes"]),
            object_size_bytes=int(fields["object_size_bytes"]),
            stripe_count=int(fields["stripe_count"]),
        )
        validate(meta)
    except (ValueError, KeyError, TypeError, InvalidShard) as exc:
        raise FormatError(f"bad header: {exc}") from exc
    return meta


def record_offset_bytes(header_length: int, chunk_size_bytes: int, stripe_index: int) -> int:
    """Where the record of stripe stripe_index starts in the file."""
    return PREFIX.size + header_length + stripe_index * (RECORD.size + chunk_size_bytes)


def encode_trailer(trailer: bytes) -> bytes:
    """The trailer block of a format-2 file (an empty trailer: none)."""
    if len(trailer) > TRAILER_LENGTH_MAX_BYTES:
        raise InvalidShard(f"trailer of {len(trailer)} bytes is too long")
    return TRAILER.pack(len(trailer), crc32c(trailer) if trailer else 0) + trailer


def decode_trailer_prefix(raw: bytes) -> tuple[int, int]:
    """Parses the fixed part of a trailer block; returns (length, crc32c)."""
    if len(raw) != TRAILER.size:
        raise FormatError(f"short trailer block ({len(raw)} bytes)")
    length, trailer_crc = TRAILER.unpack(raw)
    if length > TRAILER_LENGTH_MAX_BYTES:
        raise FormatError(f"bad trailer length {length}")
    return length, trailer_crc


def check_trailer(raw: bytes, trailer_crc: int) -> bytes:
    """Returns the trailer bytes once their CRC32C is trailer_crc."""
    if raw and crc32c(raw) != trailer_crc:
        raise FormatError("trailer checksum mismatch")
    return raw


def trailer_offset_bytes(meta: ShardMeta, header_length: int) -> int:
    """Where the trailer block of a format-2 file starts: after the last record."""
    if meta.stripe_count == 0:
        return PREFIX.size + header_length
    last = meta.stripe_count - 1
    return (
        record_offset_bytes(header_length, meta.chunk_size_bytes, last)
        + RECORD.size
        + meta.chunk_length_bytes(last)
    )


def expected_file_size_bytes(
    meta: ShardMeta, format_version: int = FORMAT_VERSION, trailer_length_bytes: int = 0
) -> int:
    """The exact size of a complete shard file with this header (and, in
    format 2, a trailer of trailer_length_bytes)."""
    header_length = len(encode_header(meta, format_version)) - PREFIX.size
    end = trailer_offset_bytes(meta, header_length)
    if format_version == 1:
        assert trailer_length_bytes == 0, "format 1 has no trailer"
        return end
    return end + TRAILER.size + trailer_length_bytes
