"""Fixtures for the node tests: shard builders and an event-loop watchdog."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from node.shard_format import ShardMeta
from tessera.checksum import crc32c
from tessera.geometry import Geometry
from tessera.ids import new_version_id


@dataclass(frozen=True)
class Shard:
    meta: ShardMeta
    chunks: list[bytes]

    @property
    def crcs(self) -> list[int]:
        return [crc32c(c) for c in self.chunks]


ShardFactory = Callable[..., Shard]


@pytest.fixture
def make_shard() -> ShardFactory:
    """Builds a consistent shard header and random chunks for it."""

    def build(
        object_size_bytes: int = 1000,
        *,
        data_shards: int = 2,
        parity_shards: int = 1,
        chunk_size_bytes: int = 64,
        shard_index: int = 0,
        version_id: str | None = None,
    ) -> Shard:
        geometry = Geometry(data_shards, parity_shards, chunk_size_bytes)
        meta = ShardMeta(
            bucket="photos",
            key="2024/cat.jpg",
            version_id=version_id or new_version_id(),
            shard_index=shard_index,
            data_shards=data_shards,
            parity_shards=parity_shards,
            chunk_size_bytes=chunk_size_bytes,
            object_size_bytes=object_size_bytes,
            stripe_count=geometry.stripe_count(object_size_bytes),
        )
        chunks = [os.urandom(meta.chunk_length_bytes(i)) for i in range(meta.stripe_count)]
        return Shard(meta, chunks)

    return build
