"""Request rates of this gateway process, from its own Prometheus counters.

The counters (gateway/metrics.py) only ever grow; a rate needs two readings.
RateSampler keeps the readings taken when the console asks (at most one per
min_interval_seconds, none older than history_seconds) and derives per-second
rates from them: the latest rate over the last ~rate_window_seconds, and a
series of consecutive rates for a sparkline. Until two readings exist the
rate is unknown (None), never a made-up zero.

These are one gateway's numbers: with several gateway replicas, the cluster's
rate is their sum (Prometheus, scraping every replica, has that view).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from gateway import metrics


@dataclass(frozen=True)
class Reading:
    at: float  # the sampler's clock, seconds
    requests_by_operation: dict[str, float] = field(default_factory=dict)
    errors: float = 0.0  # answers with an S3 error code or a 4xx/5xx status
    bytes_in: float = 0.0
    bytes_out: float = 0.0

    @property
    def requests(self) -> float:
        return sum(self.requests_by_operation.values())


def _total(counter: Counter) -> float:
    return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))


def _is_error(code: str) -> bool:
    return not code.isdigit() or int(code) >= 400


def read_counters(at: float) -> Reading:
    """The gateway's counters now."""
    by_operation: dict[str, float] = {}
    errors = 0.0
    for family in metrics.REQUESTS.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            operation = sample.labels["operation"]
            by_operation[operation] = by_operation.get(operation, 0.0) + sample.value
            if _is_error(sample.labels["code"]):
                errors += sample.value
    return Reading(
        at=at,
        requests_by_operation=by_operation,
        errors=errors,
        bytes_in=_total(metrics.BYTES_IN),
        bytes_out=_total(metrics.BYTES_OUT),
    )


def rates_between(old: Reading, new: Reading) -> dict[str, Any]:
    """Per-second rates between two readings (new.at > old.at)."""
    seconds = new.at - old.at
    assert seconds > 0
    operations = {
        op: (count - old.requests_by_operation.get(op, 0.0)) / seconds
        for op, count in new.requests_by_operation.items()
    }
    return {
        "seconds": seconds,
        "requests_per_second": (new.requests - old.requests) / seconds,
        "errors_per_second": (new.errors - old.errors) / seconds,
        "received_bytes_per_second": (new.bytes_in - old.bytes_in) / seconds,
        "sent_bytes_per_second": (new.bytes_out - old.bytes_out) / seconds,
        "by_operation": {op: rate for op, rate in sorted(operations.items()) if rate > 0},
    }


class RateSampler:
    def __init__(
        self,
        *,
        read: Callable[[float], Reading] = read_counters,
        clock: Callable[[], float] = time.monotonic,
        min_interval_seconds: float = 1.0,
        rate_window_seconds: float = 10.0,
        history_seconds: float = 120.0,
    ) -> None:
        self._read = read
        self._clock = clock
        self._min_interval = min_interval_seconds
        self._rate_window = rate_window_seconds
        self._history = history_seconds
        self._readings: deque[Reading] = deque()

    def sample(self) -> None:
        now = self._clock()
        if self._readings and now - self._readings[-1].at < self._min_interval:
            return
        self._readings.append(self._read(now))
        while self._readings and now - self._readings[0].at > self._history:
            self._readings.popleft()

    def snapshot(self) -> dict[str, Any]:
        """Takes a reading if due, then: the current rates (None until two
        readings exist), their series, and the totals since the process started."""
        self.sample()
        latest = self._readings[-1]
        older = [r for r in self._readings if latest.at - r.at >= self._rate_window]
        base = older[-1] if older else self._readings[0]
        current = rates_between(base, latest) if base is not latest else None
        series = [
            {
                "age_seconds": round(latest.at - b.at, 1),
                "requests_per_second": (b.requests - a.requests) / (b.at - a.at),
                "errors_per_second": (b.errors - a.errors) / (b.at - a.at),
            }
            for a, b in itertools.pairwise(self._readings)
        ]
        return {
            "current": current,
            "series": series,
            "totals": {
                "requests": latest.requests,
                "errors": latest.errors,
                "received_bytes": latest.bytes_in,
                "sent_bytes": latest.bytes_out,
            },
        }
