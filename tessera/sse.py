"""Encryption at rest: the sealed-block layout of an encrypted shard set.

An encrypted shard set stores a *sealed stream* instead of the object's bytes:
the plaintext is cut into *blocks* of ``block_plain_bytes(geometry)`` =
``stripe_size_bytes - TAG_BYTES`` bytes (the last one may be shorter), and
block i is sealed with AES-256-GCM into ciphertext + a 16-byte tag, which is
exactly stripe i of the shard set. Erasure coding then runs on the sealed
stream, so no shard, data or parity, ever holds plaintext, and a byte range
still touches only the stripes (= blocks) it needs.

Keys and nonces (docs/encryption.md): every shard set gets its own block key,
HKDF-SHA256(data key, info = "tessera sse block key v1|" + shard set id), so
a data key shared by the parts of one multipart upload never encrypts two
streams under one key; the nonce is the block index (96 bits, big-endian),
unique under that key. The associated data binds the block index and whether
it is the last block, so blocks cannot be reordered, and a stream cannot be
truncated at a block boundary, without the tag failing.

Invariants: sealed_size_bytes(n) = n + TAG_BYTES * block_count(n); sealed
block i is stripe i of a stream of that size (same count, same boundaries).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tessera.geometry import Geometry, StripeSpan

TAG_BYTES = 16
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
_BLOCK_KEY_INFO = b"tessera sse block key v1|"


class SealBroken(Exception):
    """A sealed block failed its tag: a wrong key, or tampered or misplaced data."""


def block_plain_bytes(geometry: Geometry) -> int:
    """Plaintext bytes in every full block (one block fills one stripe)."""
    plain = geometry.stripe_size_bytes - TAG_BYTES
    assert plain > 0, geometry
    return plain


def block_count(size_bytes: int, geometry: Geometry) -> int:
    return -(-size_bytes // block_plain_bytes(geometry))


def block_size_bytes(size_bytes: int, geometry: Geometry, index: int) -> int:
    """Plaintext bytes of block index of a stream of size_bytes plaintext."""
    plain = block_plain_bytes(geometry)
    start = index * plain
    assert 0 <= start < size_bytes, (index, size_bytes)
    return min(plain, size_bytes - start)


def sealed_size_bytes(size_bytes: int, geometry: Geometry) -> int:
    """Stored bytes of the sealed stream of size_bytes plaintext."""
    return size_bytes + TAG_BYTES * block_count(size_bytes, geometry)


def span_for_plain_range(geometry: Geometry, first: int, last: int) -> StripeSpan:
    """The sealed stripes holding plaintext bytes first..last (inclusive);
    skip_bytes counts plaintext bytes to drop from the first opened block."""
    assert 0 <= first <= last, (first, last)
    plain = block_plain_bytes(geometry)
    start = first // plain
    return StripeSpan(
        stripe_start=start,
        stripe_count=last // plain - start + 1,
        skip_bytes=first - start * plain,
        length_bytes=last - first + 1,
    )


def _nonce(index: int) -> bytes:
    return index.to_bytes(NONCE_BYTES, "big")


def _associated(index: int, last: bool) -> bytes:
    return b"tessera sse block v1|" + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


class BlockCipher:
    """Seals and opens the blocks of one shard set."""

    def __init__(self, data_key: bytes, shard_set_id: str) -> None:
        assert len(data_key) == DATA_KEY_BYTES
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=DATA_KEY_BYTES,
            salt=None,
            info=_BLOCK_KEY_INFO + shard_set_id.encode(),
        )
        self._aead = AESGCM(hkdf.derive(data_key))

    def seal(self, index: int, plain: bytes, last: bool) -> bytes:
        return self._aead.encrypt(_nonce(index), plain, _associated(index, last))

    def open(self, index: int, sealed: bytes, last: bool) -> bytes:
        try:
            return self._aead.decrypt(_nonce(index), sealed, _associated(index, last))
        except InvalidTag as exc:
            raise SealBroken(f"block {index} failed its tag") from exc
