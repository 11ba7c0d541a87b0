"""The shard store's error tree (operating errors, not bugs).

    StoreError                  anything the store refuses or cannot do
    ├── ShardNotFound           no such shard file
    ├── InvalidShard            a request or stream breaks the shard protocol
    │   │                       (bad id, index, header, order, length, count)
    │   └── RangeNotSatisfiable a stripe range outside the shard
    ├── ChecksumMismatch        a chunk failed its CRC32C on receipt (in flight)
    └── ShardCorrupt            bytes on disk failed verification; never served
        └── ChunkCorrupt        one chunk record failed (crc, length, truncation)

Invariant: the servicer maps each class to exactly one gRPC status code
(node/service.py, STATUS_FOR), tested exhaustively.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the shard store raises on purpose."""


class ShardNotFound(StoreError):
    """The shard file does not exist."""


class InvalidShard(StoreError):
    """A request or a write stream breaks the shard protocol."""


class RangeNotSatisfiable(InvalidShard):
    """The requested stripes lie outside the shard."""


class ChecksumMismatch(StoreError):
    """A received chunk's data does not match the CRC32C sent with it."""


class ShardCorrupt(StoreError):
    """Bytes on disk failed verification. The file is kept (for repair and
    forensics) and never served."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{message} ({path})")
        self.path = path


class ChunkCorrupt(ShardCorrupt):
    """One chunk record failed verification."""

    def __init__(self, message: str, path: str, stripe_index: int) -> None:
        super().__init__(message, path)
        self.stripe_index = stripe_index
