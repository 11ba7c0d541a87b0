"""When a stripe read asks spare shards too: the hedge policy (pure: no I/O).

A stripe is read from k shards at once (shardio/reader.py). When some of
them have not answered while their siblings have, the reader also asks as
many spare shards (parity, or data shards not yet asked) and takes the first
k verified chunks: one slow node — descheduled, stalled on its disk, or hung
(SIGSTOP: up for the failure detector, answering nothing) — then costs a read
the wait below (~50 ms), not SLOW_CHUNK_SECONDS.

The wait is relative to the stripe's own reads: the unanswered shards are
hedged once the stripe has waited FACTOR times as long as its latest answer
so far took, at least FLOOR_SECONDS and at most CEILING_SECONDS; not before
one of them has answered (when none has, the spares alone, fewer than k,
could not serve the stripe, and the machine is more likely slow than one
node). A straggler is a shard much later than its siblings, not
one as slow as everything else: when the whole machine is busy (the chunks
of a stripe all take tens of milliseconds), the siblings are slow too and
the wait grows with them, so load alone does not multiply reads. The floor
keeps scheduling noise from hedging: on a busy machine a node process is
often descheduled for a few milliseconds while its siblings answer (at 5 ms
the hedges cost a saturated two-core machine ~10 % of its GETs). No state is
kept between reads: a mix of workloads (page-cache hits, streamed large
objects, small reads) cannot skew it, and a hung node cannot raise it.

Design and measurements: docs/erasure-coding.md, "Hedged reads".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

FACTOR = 4.0
FLOOR_SECONDS = 0.05
CEILING_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    factor: float = FACTOR
    floor_seconds: float = FLOOR_SECONDS
    ceiling_seconds: float = CEILING_SECONDS

    def wait_seconds(self, answered_after_seconds: float | None) -> float | None:
        """How long after a stripe's reads were asked its unanswered shards
        are hedged, given how long its latest answer so far took; None (not
        yet) while nothing has answered."""
        if answered_after_seconds is None:
            return None
        wait = max(self.floor_seconds, self.factor * answered_after_seconds)
        return min(wait, self.ceiling_seconds)


def from_env() -> HedgePolicy | None:
    """The process's hedge policy; None (no hedged reads) with
    TESSERA_HEDGED_READS=0, for A/B runs."""
    if os.environ.get("TESSERA_HEDGED_READS", "1") == "0":
        return None
    return HedgePolicy()


# The policy of this process's reads (the gateway's GETs, a node's rebuilds).
PROCESS_POLICY = from_env()
