"""shardio/hedging.py: a stripe's unanswered shards are hedged after a wait
relative to its own answers (FACTOR times the latest), between the floor and
the ceiling, and not before one has answered; TESSERA_HEDGED_READS=0 turns
hedging off."""

from __future__ import annotations

import pytest

from shardio import hedging
from shardio.hedging import HedgePolicy


def test_the_wait_grows_with_the_siblings_answers() -> None:
    policy = HedgePolicy(factor=3.0, floor_seconds=0.005, ceiling_seconds=1.0)
    assert policy.wait_seconds(0.010) == pytest.approx(0.030)
    assert policy.wait_seconds(0.040) == pytest.approx(0.120)


def test_the_wait_stays_between_floor_and_ceiling() -> None:
    policy = HedgePolicy(factor=3.0, floor_seconds=0.005, ceiling_seconds=1.0)
    assert policy.wait_seconds(0.0001) == 0.005
    assert policy.wait_seconds(2.0) == 1.0
    assert policy.wait_seconds(None) is None  # not before a sibling has answered


def test_hedging_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_HEDGED_READS", raising=False)
    assert hedging.from_env() == HedgePolicy()
    monkeypatch.setenv("TESSERA_HEDGED_READS", "0")
    assert hedging.from_env() is None
