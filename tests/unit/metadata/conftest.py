"""Fixtures for the metadata tests: a temporary state database, records, and an
event-loop watchdog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rocksdict import Rdict

from metadata.state import StateMachine, open_db
from tessera.ids import new_version_id
from tessera.model import ObjectVersion, ShardLocation

VersionFactory = Callable[..., ObjectVersion]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Rdict]:
    opened = open_db(str(tmp_path / "state"))
    yield opened
    opened.close()


@pytest.fixture
def state(db: Rdict) -> StateMachine:
    return StateMachine(db)


@pytest.fixture
def make_version() -> VersionFactory:
    """Builds an object version record for bucket/key."""

    def build(bucket: str, key: str, size_bytes: int = 10, **fields: object) -> ObjectVersion:
        values: dict[str, object] = {
            "bucket": bucket,
            "key": key,
            "version_id": new_version_id(),
            "size_bytes": size_bytes,
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "content_type": "application/octet-stream",
            "last_modified": 1_700_000_000.5,
            "data_shards": 2,
            "parity_shards": 1,
            "chunk_size_bytes": 64,
            "placement": (ShardLocation(0, "n1"), ShardLocation(1, "n2"), ShardLocation(2, "n3")),
            "user_metadata": {"color": "blue"},
        }
        values.update(fields)
        return ObjectVersion(**values)  # type: ignore[arg-type]

    return build
