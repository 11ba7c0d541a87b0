"""Fixtures for the metadata tests: a temporary state database, records, and an
event-loop watchdog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from rocksdict import Rdict

from metadata.state import StateMachine, open_db
from tessera.ids import new_version_id
from tessera.model import ObjectVersion, ShardLocation

SLOW_CALLBACK_SECONDS = 0.25

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


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and " took " in message:
            self.messages.append(message)


@pytest.fixture
async def loop_watchdog() -> AsyncIterator[None]:
    """Fails the test if a callback blocks the event loop for long (a blocking
    call that escaped the executor)."""
    loop = asyncio.get_running_loop()
    handler = _SlowCallbacks()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(handler)
    was_debug, was_slow = loop.get_debug(), loop.slow_callback_duration
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    try:
        yield
    finally:
        loop.set_debug(was_debug)
        loop.slow_callback_duration = was_slow
        asyncio_log.removeHandler(handler)
    assert not handler.messages, handler.messages
