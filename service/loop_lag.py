"""How late each role's event loop runs a timer: every role watches it
(service/process.py, run_role) and exports the lateness on /metrics.

A role does all its request work on one event loop; whatever runs on it
without yielding — a garbage collection, a blocking call, a burst of
callbacks, the process waiting for a CPU on a busy machine — delays every
other request by as long. watch_loop_lag() sleeps SAMPLE_SECONDS at a time
and observes, in `tessera_event_loop_lag_seconds`, how much later than asked
it woke. Each sample is what a callback due at that moment waited, so the
histogram is a sample of the loop's delay at random moments: a p99 of 5 ms
means about one moment in a hundred found the loop busy for 5 ms more. A
stall shorter than the period is caught by a sample with a probability of
its length over the period (a 20 ms stall, one time in twelve at the
default period): single short stalls may go unseen, their rate does not.

Resolution: uvloop fires timers on a millisecond clock, so a few ms of lag
can be the timer's own rounding; the buckets start at 1 ms. A stall of
STALL_LOG_SECONDS or more is also logged (at most once per
STALL_LOG_EVERY_SECONDS, with how many there were since), since one of that
length means requests waited that long too.

TESSERA_LOOP_LAG_SAMPLE_SECONDS in the environment sets the period; 0 turns
the watch off. Its cost: one timer and one histogram observation per period
(about 10-20 µs of CPU, four times a second by default; measured in
docs/benchmarks.md, "Where the c1 tails come from").
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

from prometheus_client import Histogram

log = logging.getLogger(__name__)

SAMPLE_ENV = "TESSERA_LOOP_LAG_SAMPLE_SECONDS"
SAMPLE_SECONDS = 0.25
STALL_LOG_SECONDS = 0.5
STALL_LOG_EVERY_SECONDS = 10.0

LOOP_LAG_SECONDS = Histogram(
    "tessera_event_loop_lag_seconds",
    "How much later than asked the role's event loop ran a timer (sampled every "
    "TESSERA_LOOP_LAG_SAMPLE_SECONDS, 0.25 by default): time it spent on other "
    "work, blocked, or waiting for a CPU",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def sample_seconds() -> float:
    """The sampling period from the environment (SAMPLE_SECONDS when unset
    or not a number); 0 or less: no watch."""
    try:
        return float(os.environ.get(SAMPLE_ENV, SAMPLE_SECONDS))
    except ValueError:
        return SAMPLE_SECONDS


class StallLog:
    """Logs stalls of at least STALL_LOG_SECONDS, at most once per
    STALL_LOG_EVERY_SECONDS (with how many came since the last line)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logged_at = -float("inf")
        self._unlogged = 0

    def note(self, lag_seconds: float) -> bool:
        """Takes one sample; returns whether it wrote a line."""
        if lag_seconds < STALL_LOG_SECONDS:
            return False
        self._unlogged += 1
        now = self._clock()
        if now - self._logged_at < STALL_LOG_EVERY_SECONDS:
            return False
        log.warning(
            "event loop stalled for %.2f s (%d stall(s) of %.1f s or more since the last report)",
            lag_seconds,
            self._unlogged,
            STALL_LOG_SECONDS,
        )
        self._logged_at = now
        self._unlogged = 0
        return True


async def watch_loop_lag(period_seconds: float = SAMPLE_SECONDS) -> None:
    """Samples the running loop's lag every period_seconds until cancelled."""
    stalls = StallLog()
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(period_seconds)
        lag = max(0.0, time.perf_counter() - asked - period_seconds)
        LOOP_LAG_SECONDS.observe(lag)
        stalls.note(lag)
