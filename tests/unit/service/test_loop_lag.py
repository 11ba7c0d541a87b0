"""The event loop's lag: what the watch observes when the loop is blocked,
how stalls are logged, and the switch."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import REGISTRY

from service import loop_lag
from service.loop_lag import SAMPLE_ENV, StallLog, sample_seconds, watch_loop_lag


def _samples_over(seconds: str) -> float:
    """How many lag samples so far were longer than the bucket bound `seconds`."""
    name = "tessera_event_loop_lag_seconds"
    total = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    within = REGISTRY.get_sample_value(f"{name}_bucket", {"le": seconds}) or 0.0
    return total - within


def test_a_blocked_loop_is_observed_as_lag_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        watch = asyncio.create_task(watch_loop_lag(0.01))
        await asyncio.sleep(0.05)  # a few quiet samples
        time.sleep(0.6)  # noqa: ASYNC251 (the point: the loop blocked, as by a blocking call)
        await asyncio.sleep(0.05)
        watch.cancel()

    before = _samples_over("0.5")
    with caplog.at_level(logging.WARNING, logger=loop_lag.__name__):
        asyncio.run(scenario())
    assert _samples_over("0.5") - before >= 1
    assert any("event loop stalled for 0.6" in r.getMessage() for r in caplog.records)


def test_a_free_loop_shows_no_stall() -> None:
    async def scenario() -> None:
        watch = asyncio.create_task(watch_loop_lag(0.01))
        await asyncio.sleep(0.2)
        watch.cancel()

    count_before = REGISTRY.get_sample_value("tessera_event_loop_lag_seconds_count") or 0.0
    before = _samples_over("0.5")
    asyncio.run(scenario())
    count_after = REGISTRY.get_sample_value("tessera_event_loop_lag_seconds_count") or 0.0
    assert count_after - count_before >= 5  # it samples while the loop runs
    assert _samples_over("0.5") == before  # nothing like the blocked loop's 0.6 s


def test_stalls_are_logged_at_most_once_per_period(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    stalls = StallLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=loop_lag.__name__):
        assert stalls.note(0.7)  # the first stall is reported at once
        now[0] += 1
        assert not stalls.note(0.9)  # within the period: counted, not logged
        assert not stalls.note(0.1)  # not a stall
        now[0] += loop_lag.STALL_LOG_EVERY_SECONDS
        assert stalls.note(0.5)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "0.70 s (1 stall(s)" in lines[0]
    assert "0.50 s (2 stall(s)" in lines[1]  # the unlogged 0.9 s one and this one


def test_the_period_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SAMPLE_ENV, raising=False)
    assert sample_seconds() == loop_lag.SAMPLE_SECONDS
    monkeypatch.setenv(SAMPLE_ENV, "0")
    assert sample_seconds() == 0.0  # off
    monkeypatch.setenv(SAMPLE_ENV, "0.5")
    assert sample_seconds() == 0.5
    monkeypatch.setenv(SAMPLE_ENV, "often")
    assert sample_seconds() == loop_lag.SAMPLE_SECONDS
