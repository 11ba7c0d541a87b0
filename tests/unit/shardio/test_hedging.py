"""shardio/hedging.py: the hedge delay is a high quantile of the chunk reads
that answered, recomputed in batches, kept between its floor and ceiling;
TESSERA_HEDGED_READS=0 turns hedging off."""

from __future__ import annotations

import pytest

from shardio import hedging
from shardio.hedging import RECOMPUTE_EVERY, HedgeDelay


def test_the_delay_is_the_initial_one_until_a_batch_of_samples_is_in() -> None:
    delay = HedgeDelay(initial_seconds=0.05)
    for _ in range(RECOMPUTE_EVERY - 1):
        delay.observe(0.010)
    assert delay.seconds() == 0.05
    delay.observe(0.010)
    assert delay.seconds() == 0.010


def test_the_delay_is_the_quantile_of_the_window() -> None:
    delay = HedgeDelay(quantile=0.99, window=1000, floor_seconds=0.0001)
    for i in range(1000):  # 1 ms .. 1000 ms, shuffled by a stride
        delay.observe(((i * 337) % 1000 + 1) / 1000)
    assert delay.seconds() == pytest.approx(0.991)
    # the window moves on: fast reads push the slow ones out (the delay is
    # recomputed every RECOMPUTE_EVERY samples)
    for _ in range(2000):
        delay.observe(0.002)
    assert delay.seconds() == pytest.approx(0.002)


def test_the_delay_stays_between_floor_and_ceiling() -> None:
    delay = HedgeDelay(floor_seconds=0.005, ceiling_seconds=0.5)
    for _ in range(RECOMPUTE_EVERY):
        delay.observe(0.0001)
    assert delay.seconds() == 0.005
    for _ in range(hedging.WINDOW):
        delay.observe(7.0)
    assert delay.seconds() == 0.5


def test_hedging_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_HEDGED_READS", raising=False)
    assert isinstance(hedging.from_env(), HedgeDelay)
    monkeypatch.setenv("TESSERA_HEDGED_READS", "0")
    assert hedging.from_env() is None
