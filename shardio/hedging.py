"""When a stripe read asks spare shards too: the hedge delay (pure: no I/O).

A stripe is read from k shards at once (shardio/reader.py). When some of
them have not answered after the hedge delay, the reader also asks as many
spare shards (parity, or data shards not yet asked) and takes the first k
verified chunks: one slow node — descheduled, stalled on its disk, or hung
(SIGSTOP: up for the failure detector, answering nothing) — then costs a read
the delay, not SLOW_CHUNK_SECONDS.

The delay is the DELAY_QUANTILE of the last WINDOW chunk reads that
answered (time from the stripe's wait start to that chunk), kept between
DELAY_FLOOR_SECONDS and DELAY_CEILING_SECONDS. A quantile of single chunk
reads, not of whole stripes: a stripe waits for k of them, so at the 0.99
quantile about 1 - 0.99^k of stripes (4 % at k = 4) ask one spare more in
the worst case. Reads that never answered (the hung node's) are not
samples, so a hung node does not raise the delay it is hedged after. The
floor keeps sub-millisecond jitter from hedging on an idle machine; the
ceiling bounds what a slow node costs when every recent read was slow.

Design and measurements: docs/erasure-coding.md, "Hedged reads".
"""

from __future__ import annotations

import os
from collections import deque

DELAY_QUANTILE = 0.99
WINDOW = 1024
# The delay is recomputed after this many new samples (a sort of WINDOW
# floats, ~50 µs), not on every read.
RECOMPUTE_EVERY = 64
DELAY_FLOOR_SECONDS = 0.005
DELAY_CEILING_SECONDS = 1.0
# Before RECOMPUTE_EVERY samples are in: a delay no healthy read here needs.
INITIAL_DELAY_SECONDS = 0.05


class HedgeDelay:
    """The rolling hedge delay of one process. Not thread-safe: used from
    one event loop."""

    def __init__(
        self,
        quantile: float = DELAY_QUANTILE,
        window: int = WINDOW,
        floor_seconds: float = DELAY_FLOOR_SECONDS,
        ceiling_seconds: float = DELAY_CEILING_SECONDS,
        initial_seconds: float = INITIAL_DELAY_SECONDS,
    ) -> None:
        assert 0.0 < quantile < 1.0 and window >= RECOMPUTE_EVERY
        assert 0.0 < floor_seconds <= ceiling_seconds
        self._quantile = quantile
        self._samples: deque[float] = deque(maxlen=window)
        self._floor = floor_seconds
        self._ceiling = ceiling_seconds
        self._delay = min(max(initial_seconds, floor_seconds), ceiling_seconds)
        self._unsorted = 0

    def observe(self, seconds: float) -> None:
        """A chunk read that answered after seconds."""
        self._samples.append(seconds)
        self._unsorted += 1
        if self._unsorted >= RECOMPUTE_EVERY:
            self._unsorted = 0
            ordered = sorted(self._samples)
            at = min(len(ordered) - 1, int(self._quantile * len(ordered)))
            self._delay = min(max(ordered[at], self._floor), self._ceiling)

    def seconds(self) -> float:
        """How long a stripe waits for its chunks before asking spares too."""
        return self._delay


def from_env() -> HedgeDelay | None:
    """The process's hedge delay; None (no hedged reads) with
    TESSERA_HEDGED_READS=0, for A/B runs."""
    if os.environ.get("TESSERA_HEDGED_READS", "1") == "0":
        return None
    return HedgeDelay()


# The delay of this process's reads (the gateway's GETs, a node's rebuilds).
PROCESS_DELAY = from_env()
