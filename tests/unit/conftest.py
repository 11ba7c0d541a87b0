"""Fixtures shared by the unit tests: the event-loop watchdog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

# Wall time, so a loaded 2-core machine stretches every callback: 0.25 s failed
# teardowns spuriously while other test processes ran. A call that blocks on
# I/O or CPU for real (an fsync, a whole-file read, zfec on the loop) still
# shows up in the node and metadata service tests that use the fixture.
SLOW_CALLBACK_SECONDS = 1.0


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
    """Fails the test if any callback blocks the event loop for long (a
    blocking call that escaped the executor)."""
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
