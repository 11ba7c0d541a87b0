"""Running one role as a process: logging, uvloop, malloc thresholds
(service/malloc_tuning.py), start-up objects out of the garbage collector's
full walks (service/gc_tuning.py), the event loop's lag on /metrics
(service/loop_lag.py), and a clean stop on signals.

run_role(main) runs the coroutine main(stop) on uvloop; stop is an Event set on
SIGINT or SIGTERM, after which main is expected to shut down gracefully and
return. A second signal cancels it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

from service.gc_tuning import freeze_startup_objects
from service.loop_lag import sample_seconds, watch_loop_lag
from service.malloc_tuning import tune_malloc


def setup_logging(level: str, role: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format=f"%(asctime)s {role} %(levelname)s %(name)s: %(message)s",
    )


def run_role(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    tune_malloc()
    freeze_startup_objects()

    async def wrapper() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.current_task()
        assert task is not None

        def on_signal() -> None:
            if stop.is_set():
                task.cancel()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        period = sample_seconds()
        watch = asyncio.create_task(watch_loop_lag(period)) if period > 0 else None
        try:
            await main(stop)
        finally:
            if watch is not None:
                watch.cancel()

    try:
        uvloop.run(wrapper())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
