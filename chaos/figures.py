"""The figures of a chaos run, computed from what was recorded: availability,
latency percentiles over time, time to detect, time to full redundancy, and an
estimated annual durability from a Markov model of the k+m geometry.

Pure: no I/O, no clock. Every figure is computed from recorded samples or from
stated inputs; nothing here invents a number the run did not measure.

Durability model (a birth-death Markov chain, as in Gibson's RAID MTTDL and
Ceph/Backblaze write-ups): one placement group of n = k + m shards on n
disks, each failing independently at rate lam; state i = shards lost;
state m + 1 (more than m lost) is data loss. From state i a further failure
comes at (n - i) * lam, and repair brings it back to i - 1 at mu = 1 / MTTR
(one repair at a time, the conservative choice). MTTDL is the expected time
from state 0 to absorption, solved exactly (a tridiagonal linear system).
For m = 1 this is the known closed form ((2n - 1) lam + mu) / (n (n - 1) lam^2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_YEAR = 8766.0


# ---------------------------------------------------------------- availability


@dataclass(frozen=True)
class Request:
    """One client request as the figures see it."""

    start: float  # seconds since the workload started
    end: float
    ok: bool  # the service answered (a definitive S3 answer, not a 5xx or a timeout)


def availability(requests: Sequence[Request], start: float = 0.0, end: float = math.inf) -> float:
    """Share of requests started in [start, end) that succeeded (nan when none)."""
    chosen = [r for r in requests if start <= r.start < end]
    if not chosen:
        return math.nan
    return sum(r.ok for r in chosen) / len(chosen)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Bucket:
    start: float
    requests: int
    succeeded: int
    p50_seconds: float
    p99_seconds: float


def buckets(requests: Sequence[Request], width_seconds: float, until: float) -> list[Bucket]:
    """Per time bucket: requests started, succeeded, p50/p99 of successful latencies."""
    count = max(1, math.ceil(until / width_seconds))
    grouped: list[list[Request]] = [[] for _ in range(count)]
    for r in requests:
        index = int(r.start // width_seconds)
        if 0 <= index < count:
            grouped[index].append(r)
    out = []
    for i, group in enumerate(grouped):
        latencies = [r.end - r.start for r in group if r.ok]
        out.append(
            Bucket(
                i * width_seconds,
                len(group),
                sum(r.ok for r in group),
                percentile(latencies, 0.5),
                percentile(latencies, 0.99),
            )
        )
    return out


# ---------------------------------------------------------------- detection, redundancy


def time_to_detect(
    fault_at: float, target: str, down_samples: Sequence[tuple[float, frozenset[str]]]
) -> float | None:
    """Seconds from fault_at until the cluster map first shows target down (None: never)."""
    for t, down in down_samples:
        if t >= fault_at and target in down:
            return t - fault_at
    return None


def time_to_full_redundancy(since: float, samples: Sequence[tuple[float, bool]]) -> float | None:
    """Seconds from since until the first sample at full redundancy that is followed
    by no degraded sample (None: not reached)."""
    reached: float | None = None
    for t, full in samples:
        if t < since:
            continue
        if full and reached is None:
            reached = t
        elif not full:
            reached = None
    return None if reached is None else reached - since


# ---------------------------------------------------------------- durability


def mttdl_hours(n: int, m: int, disk_failure_per_hour: float, repair_hours: float) -> float:
    """Mean time to data loss of one n = k + m placement group (hours)."""
    assert 0 <= m < n and disk_failure_per_hour > 0 and repair_hours > 0
    lam, mu = disk_failure_per_hour, 1.0 / repair_hours
    # T_i = 1/a_i + f_i/a_i T_{i+1} + r_i/a_i T_{i-1}, T_{m+1} = 0; solve by
    # expressing T_i = alpha_i + beta_i T_{i+1} from i = 0 upward.
    alpha, beta = 0.0, 0.0
    coefficients: list[tuple[float, float]] = []
    for i in range(m + 1):
        f = (n - i) * lam
        r = mu if i > 0 else 0.0
        a = f + r
        # a T_i = 1 + f T_{i+1} + r (alpha_{i-1} + beta_{i-1} T_i)
        denominator = a - r * beta
        alpha, beta = (1 + r * alpha) / denominator, f / denominator
        coefficients.append((alpha, beta))
    value = 0.0  # T_{m+1}
    for alpha_i, beta_i in reversed(coefficients):
        value = alpha_i + beta_i * value
    return value


def nines(loss_probability: float) -> float:
    """-log10 of a loss probability (inf when it is 0)."""
    if loss_probability <= 0:
        return math.inf
    return -math.log10(loss_probability)


def annual_loss_probability(mttdl: float) -> float:
    """P(data loss within a year) for an exponential time to loss with mean mttdl (hours)."""
    return -math.expm1(-HOURS_PER_YEAR / mttdl)


def zone_loss_probability(
    n: int, m: int, shards_per_zone: int, disk_failure_per_hour: float, repair_hours: float
) -> float:
    """P(data loss | one zone is lost): the zone takes shards_per_zone shards; data is
    lost if more than the spare (m - shards_per_zone) of the remaining shards fail
    before the zone's shards are rebuilt (repair_hours)."""
    spare = m - shards_per_zone
    if spare < 0:
        return 1.0
    remaining = n - shards_per_zone
    p = -math.expm1(-disk_failure_per_hour * repair_hours)
    survive = sum(
        math.comb(remaining, j) * p**j * (1 - p) ** (remaining - j) for j in range(spare + 1)
    )
    return max(0.0, 1.0 - survive)


@dataclass(frozen=True)
class Durability:
    n: int
    m: int
    repair_hours: float
    afr: float  # annual disk failure rate (a share per year)
    mttdl_hours: float
    annual_nines: float
    zone_loss_nines: float  # given one zone loss per year, nines of surviving it
    shards_per_zone: int


def durability(k: int, m: int, zones: int, repair_seconds: float, afr: float = 0.02) -> Durability:
    """Annual durability in nines of one placement group from a measured repair time."""
    n = k + m
    lam = afr / HOURS_PER_YEAR
    repair_hours = repair_seconds / 3600.0
    mttdl = mttdl_hours(n, m, lam, repair_hours)
    per_zone = -(-n // zones)
    zone_loss = zone_loss_probability(n, m, per_zone, lam, repair_hours)
    return Durability(
        n, m, repair_hours, afr, mttdl, nines(annual_loss_probability(mttdl)),
        nines(zone_loss), per_zone,
    )  # fmt: skip
