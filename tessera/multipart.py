"""Multipart arithmetic, free of I/O: the multipart ETag, S3's composite and
full-object checksums, where a byte range falls among segments, and the
checks CompleteMultipartUpload makes on the listed parts.

Invariants:
- the ETag of a completed upload is the hex MD5 of the concatenated binary
  MD5s of its parts, then "-" and the part count, as S3 computes it;
- a COMPOSITE checksum is the algorithm applied to the concatenated binary
  part checksums, then "-" and the part count; a FULL_OBJECT CRC is the CRC of
  the whole object, combined from the part CRCs and sizes (no data re-read);
- segment_ranges covers exactly bytes first..last, each piece inside one
  segment, in order.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import awscrt.checksums

from tessera import errors
from tessera.checksum import CHECKSUM_ALGORITHMS, new_hasher
from tessera.model import Segment

COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
CRC_ALGORITHMS = ("crc32", "crc32c", "crc64nvme")


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's ETag of a multipart object from its parts' hex MD5s (without quotes)."""
    joined = b"".join(bytes.fromhex(e) for e in part_etags)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"


def checksum_type_for(algorithm: str, requested: str) -> str:
    """The checksum type of an upload created with this algorithm and
    x-amz-checksum-type ("" when absent); InvalidRequest for a pair S3 refuses."""
    requested = requested.upper()
    if not algorithm:
        if requested:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with an x-amz-checksum-algorithm "
                "header."
            )
        return ""
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise errors.InvalidRequest(f"Checksum algorithm {algorithm.upper()} is not supported.")
    if requested not in ("", COMPOSITE, FULL_OBJECT):
        raise errors.InvalidRequest(f"Value for x-amz-checksum-type is invalid: {requested}")
    if algorithm == "crc64nvme":
        if requested == COMPOSITE:
            raise errors.InvalidRequest(
                "The COMPOSITE checksum type cannot be used with CRC64NVME."
            )
        return FULL_OBJECT
    if algorithm in ("sha1", "sha256") and requested == FULL_OBJECT:
        raise errors.InvalidRequest(
            f"The FULL_OBJECT checksum type cannot be used with {algorithm.upper()}."
        )
    return requested or COMPOSITE


def _combine_crc(algorithm: str, parts: Sequence[tuple[bytes, int]]) -> bytes:
    combine = getattr(awscrt.checksums, f"combine_{algorithm}")
    width_bytes = 8 if algorithm == "crc64nvme" else 4
    value = 0
    for digest, size_bytes in parts:
        value = combine(value, int.from_bytes(digest, "big"), size_bytes)
    return int(value).to_bytes(width_bytes, "big")


def object_checksum(algorithm: str, checksum_type: str, parts: Sequence[Segment]) -> str:
    """The object's checksum value from its parts' (base64) checksums; "" when a
    part lacks one (the upload then carries no checksum)."""
    if not algorithm or any(algorithm not in p.checksums for p in parts):
        return ""
    digests = [base64.b64decode(p.checksums[algorithm]) for p in parts]
    if checksum_type == FULL_OBJECT:
        assert algorithm in CRC_ALGORITHMS, algorithm
        combined = _combine_crc(
            algorithm, [(d, p.size_bytes) for d, p in zip(digests, parts, strict=True)]
        )
        return base64.b64encode(combined).decode()
    hasher = new_hasher(algorithm)
    hasher.update(b"".join(digests))
    return f"{base64.b64encode(hasher.digest()).decode()}-{len(parts)}"


@dataclass(frozen=True, slots=True)
class ListedPart:
    """One <Part> of a CompleteMultipartUpload request."""

    part_number: int
    etag: str  # as the client sent it, quotes allowed
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64


def choose_parts(
    listed: Sequence[ListedPart], stored: Mapping[int, Segment], part_size_min_bytes: int
) -> list[Segment]:
    """The stored parts a completion names, in order; raises S3's error when
    the list is empty or unordered, names a part that is missing or has
    another ETag or checksum, or a part other than the last is too small."""
    if not listed:
        raise errors.MalformedXML("The request must name at least one part.")
    chosen: list[Segment] = []
    previous = 0
    for item in listed:
        if item.part_number <= previous:
            raise errors.InvalidPartOrder()
        previous = item.part_number
        part = stored.get(item.part_number)
        if part is None or item.etag.strip().strip('"') != part.etag:
            raise errors.InvalidPart(PartNumber=str(item.part_number))
        for algorithm, value in item.checksums.items():
            if part.checksums.get(algorithm) not in (None, value):
                raise errors.InvalidPart(
                    f"The {algorithm.upper()} of part {item.part_number} does not match.",
                    PartNumber=str(item.part_number),
                )
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size_bytes < part_size_min_bytes:
            raise errors.EntityTooSmall(
                ProposedSize=str(part.size_bytes),
                MinSizeAllowed=str(part_size_min_bytes),
                PartNumber=str(part.part_number),
            )
    return chosen


def segment_ranges(sizes: Sequence[int], first: int, last: int) -> list[tuple[int, int, int]]:
    """(segment index, first, last) inside each segment for bytes first..last
    (inclusive) of the segments concatenated; empty segments are skipped."""
    assert 0 <= first <= last, (first, last)
    found = []
    start = 0
    for index, size in enumerate(sizes):
        end = start + size - 1  # last byte of this segment
        if size > 0 and end >= first and start <= last:
            found.append((index, max(first, start) - start, min(last, end) - start))
        start += size
        if start > last:
            break
    assert found and start > last, (sizes, first, last)
    return found


def part_range(sizes: Sequence[int], part_index: int) -> tuple[int, int]:
    """First and last byte of part part_index (0-based) among the segments."""
    start = sum(sizes[:part_index])
    return start, start + sizes[part_index] - 1
