"""Figures: percentiles, buckets, detection and redundancy times, and the
Markov MTTDL against closed forms."""

from __future__ import annotations

import math

import pytest

from chaos import figures
from chaos.figures import Request


def test_mttdl_without_parity_is_first_failure() -> None:
    lam = 1e-5
    assert figures.mttdl_hours(6, 0, lam, 10.0) == pytest.approx(1 / (6 * lam))


@pytest.mark.parametrize("n", [2, 3, 6, 10])
@pytest.mark.parametrize("repair_hours", [1.0, 24.0, 1000.0])
def test_mttdl_one_parity_matches_closed_form(n: int, repair_hours: float) -> None:
    lam, mu = 2e-6, 1 / repair_hours
    closed = ((2 * n - 1) * lam + mu) / (n * (n - 1) * lam**2)
    assert figures.mttdl_hours(n, 1, lam, repair_hours) == pytest.approx(closed, rel=1e-9)


def test_mttdl_two_parity_matches_linear_solve() -> None:
    # States 0, 1, 2 transient; solve T = 1/a + ... by hand for n=6, m=2.
    n, lam, mu = 6, 1e-4, 0.1
    f = [(n - i) * lam for i in range(3)]
    # T2 = 1/(f2+mu) + mu/(f2+mu) T1 ; T1 = 1/(f1+mu) + f1/(f1+mu) T2 + mu/(f1+mu) T0
    # T0 = 1/f0 + T1. Eliminate numerically with numpy-free algebra:
    a2 = 1 / (f[2] + mu)
    b2 = mu / (f[2] + mu)  # T2 = a2 + b2 T1
    # T1 (f1+mu) = 1 + f1 (a2 + b2 T1) + mu T0, T0 = 1/f0 + T1
    t1 = (1 + f[1] * a2 + mu / f[0]) / (f[1] + mu - f[1] * b2 - mu)
    t0 = 1 / f[0] + t1
    assert figures.mttdl_hours(n, 2, lam, 1 / mu) == pytest.approx(t0, rel=1e-9)


def test_mttdl_grows_with_parity_and_faster_repair() -> None:
    lam = 0.02 / figures.HOURS_PER_YEAR
    assert figures.mttdl_hours(6, 2, lam, 1) > figures.mttdl_hours(6, 2, lam, 24)
    assert figures.mttdl_hours(9, 4, lam, 24) > figures.mttdl_hours(6, 2, lam, 24)


def test_zone_loss() -> None:
    # 4+2 over 3 zones: a zone takes 2 shards, no spare left: any further failure loses data.
    p = figures.zone_loss_probability(6, 2, 2, 1e-3, 10.0)
    assert p == pytest.approx(1 - math.exp(-1e-3 * 10) ** 4, rel=1e-9)
    assert figures.zone_loss_probability(6, 1, 2, 1e-3, 10.0) == 1.0
    d = figures.durability(5, 4, 3, 3600.0)
    assert d.shards_per_zone == 3
    assert d.zone_loss_nines > figures.durability(4, 2, 3, 3600).zone_loss_nines


def test_nines() -> None:
    assert figures.nines(1e-9) == pytest.approx(9)
    assert figures.nines(0) == math.inf


def test_percentile_and_buckets() -> None:
    assert figures.percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert figures.percentile([1, 2], 0.99) == pytest.approx(1.99)
    assert math.isnan(figures.percentile([], 0.5))
    reqs = [Request(0.1, 0.2, True), Request(0.5, 1.5, False), Request(1.2, 1.3, True)]
    rows = figures.buckets(reqs, 1.0, 2.0)
    assert [(b.requests, b.succeeded) for b in rows] == [(2, 1), (1, 1)]
    assert figures.availability(reqs) == pytest.approx(2 / 3)
    assert figures.availability(reqs, 0.4, 1.0) == 0.0


def test_detection_and_full_redundancy() -> None:
    down = [(1.0, frozenset()), (5.0, frozenset({"node-a1"})), (6.0, frozenset({"node-a1"}))]
    assert figures.time_to_detect(2.0, "node-a1", down) == 3.0
    assert figures.time_to_detect(2.0, "node-b1", down) is None
    samples = [(1.0, True), (3.0, False), (4.0, True), (5.0, False), (7.0, True), (8.0, True)]
    assert figures.time_to_full_redundancy(2.0, samples) == 5.0
    assert figures.time_to_full_redundancy(2.0, [*samples, (9.0, False)]) is None
