"""Chunk checksums: CRC32C, computed on write and verified on every read.

google-crc32c uses the CPU's CRC instruction where present and releases the
GIL for large buffers.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import awscrt.checksums
import google_crc32c


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """Returns the CRC32C of data as an unsigned 32-bit integer."""
    return int(google_crc32c.value(bytes(data) if isinstance(data, memoryview) else data))


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
