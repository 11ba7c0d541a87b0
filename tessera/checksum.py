"""Chunk checksums: CRC32C, computed on write and verified on every read.

awscrt's CRC32C uses the CPU's CRC instructions where present, reads any
buffer in place (a memoryview slice is not copied first) and releases the GIL
for buffers over 5 KiB. It is about twice as fast as google-crc32c here, which
also needed a copy of every memoryview (docs/benchmarks.md, "Reads from the
page cache").
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import awscrt.checksums


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """Returns the CRC32C of data as an unsigned 32-bit integer."""
    return int(awscrt.checksums.crc32c(data))


def verify(data: bytes | bytearray | memoryview, expected_crc32c: int) -> bool:
    """True when data's CRC32C equals expected_crc32c."""
    return crc32c(data) == expected_crc32c


class _Crc:
    """A running CRC from awscrt (crc32, crc32c or crc64nvme), big-endian digest."""

    def __init__(self, algorithm: str) -> None:
        self._fn = getattr(awscrt.checksums, algorithm)
        self._width_bytes = 8 if algorithm == "crc64nvme" else 4
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return int(self._value).to_bytes(self._width_bytes, "big")


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


# S3 additional-checksum algorithms (x-amz-checksum-<name>) this store verifies.
CHECKSUM_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


def new_hasher(algorithm: str) -> Hasher:
    """A running hash for an S3 checksum algorithm name (lower case)."""
    if algorithm in ("crc32", "crc32c", "crc64nvme"):
        return _Crc(algorithm)
    if algorithm in ("sha1", "sha256"):
        return hashlib.new(algorithm)
    raise ValueError(f"unsupported checksum algorithm {algorithm!r}")
