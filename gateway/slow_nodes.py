"""Nodes this gateway found slow: read last, written to briefly, for a while.

A hedged read (shardio/hedging.py) serves a stripe without a straggler's
chunk; the straggler's node is noted here (ReadObserver.straggler_dropped).
A node left behind STRIKES times within STRIKE_WINDOW_SECONDS is slow for
SLOW_FOR_SECONDS: read_path ranks its shards after every up node's, so reads
go to parity instead of paying the hedge wait again on every GET (a node with
a stalled disk, or one hung but not yet past the failure detector's grace).
When the time is up its shards are read first again: if it is still slow, the
next few hedges mark it again. A write that waited the full slow-shard wait
for a node (gateway/write_path.py) marks it at once. While a node is slow, new
shard sets are placed elsewhere when the other nodes span the same zones,
and a shard that is still on it gets a short grace once the write quorum is
durable (four times what the quorum took, at least 50 ms), not the full
wait. One gateway's view only; nothing is shared.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

STRIKES = 3
STRIKE_WINDOW_SECONDS = 5.0
SLOW_FOR_SECONDS = 10.0


class SlowNodes:
    """Straggler strikes and slow marks by node id; used from one event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._strikes: dict[str, deque[float]] = {}
        self._slow_until: dict[str, float] = {}

    def straggled(self, node_id: str) -> bool:
        """A read of node_id was left behind; True when that makes it slow."""
        now = self._clock()
        strikes = self._strikes.setdefault(node_id, deque(maxlen=STRIKES))
        strikes.append(now)
        if len(strikes) < STRIKES or now - strikes[0] > STRIKE_WINDOW_SECONDS:
            return False
        strikes.clear()
        self._slow_until[node_id] = now + SLOW_FOR_SECONDS
        log.warning(
            "node %s left behind by %d hedged reads within %.0f s: read last for %.0f s",
            node_id,
            STRIKES,
            STRIKE_WINDOW_SECONDS,
            SLOW_FOR_SECONDS,
        )
        return True

    def mark(self, node_id: str) -> None:
        """node_id is slow now (a write waited the full slow-shard wait for it)."""
        self._strikes.pop(node_id, None)
        self._slow_until[node_id] = self._clock() + SLOW_FOR_SECONDS
        log.warning(
            "node %s did not confirm a shard write in time: slow for %.0f s",
            node_id,
            SLOW_FOR_SECONDS,
        )

    def is_slow(self, node_id: str) -> bool:
        until = self._slow_until.get(node_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        del self._slow_until[node_id]
        return False
