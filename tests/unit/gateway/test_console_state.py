"""The console's pure parts: the session store and the request-rate sampler."""

from __future__ import annotations

import pytest

from gateway.console.rates import RateSampler, Reading
from gateway.console.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sessions_are_random_and_hold_no_secret() -> None:
    store = SessionStore(clock=Clock())
    a, b = store.create("AK1"), store.create("AK1")
    assert a.session_id != b.session_id and a.csrf_token != b.csrf_token
    assert a.csrf_token != a.session_id and len(a.session_id) >= 40
    assert vars(a).keys() == {
        "session_id",
        "access_key",
        "csrf_token",
        "created_at",
        "last_used_at",
    }
    assert store.get(a.session_id) is a and store.get("nope") is None and store.get(None) is None
    assert a.csrf_matches(a.csrf_token)
    assert not a.csrf_matches(b.csrf_token) and not a.csrf_matches("") and not a.csrf_matches(None)
    store.delete(a.session_id)
    assert store.get(a.session_id) is None


def test_idle_and_maximum_expiry() -> None:
    clock = Clock()
    store = SessionStore(idle_seconds=10, max_seconds=25, clock=clock)
    s = store.create("AK")
    clock.now = 9.9
    assert store.get(s.session_id) is s
    assert store.seconds_left(s) == pytest.approx(10)
    clock.now = 19.8
    assert store.get(s.session_id) is s
    assert store.seconds_left(s) == pytest.approx(5.2)  # capped by the maximum age
    clock.now = 25.0
    assert store.get(s.session_id) is None
    t = store.create("AK")
    clock.now = 35.0
    assert store.get(t.session_id) is None


def test_least_recently_used_session_is_dropped_at_the_cap() -> None:
    clock = Clock()
    store = SessionStore(sessions_max=2, clock=clock)
    a, b = store.create("A"), store.create("B")
    store.get(a.session_id)  # b is now the least recently used
    c = store.create("C")
    assert len(store) == 2
    assert store.get(b.session_id) is None
    assert store.get(a.session_id) is a and store.get(c.session_id) is c


def test_rates_need_two_readings_and_come_from_counter_deltas() -> None:
    clock = Clock()
    counts = {"GetObject": 0.0}

    def read(at: float) -> Reading:
        return Reading(at=at, requests_by_operation=dict(counts), errors=counts["GetObject"] / 10)

    sampler = RateSampler(read=read, clock=clock, rate_window_seconds=10)
    first = sampler.snapshot()
    assert first["current"] is None and first["series"] == []
    clock.now = 0.5
    counts["GetObject"] = 5
    assert sampler.snapshot()["current"] is None  # too soon for a second reading
    clock.now = 5.0
    counts["GetObject"] = 50
    snap = sampler.snapshot()
    assert snap["current"]["requests_per_second"] == pytest.approx(10.0)
    assert snap["current"]["errors_per_second"] == pytest.approx(1.0)
    assert snap["current"]["by_operation"] == {"GetObject": pytest.approx(10.0)}
    clock.now = 15.0
    counts["GetObject"] = 50
    snap = sampler.snapshot()
    # Over the newest reading at least 10 s old (t=5): nothing since.
    assert snap["current"]["seconds"] == 10 and snap["current"]["requests_per_second"] == 0
    assert [round(s["requests_per_second"], 3) for s in snap["series"]] == [10.0, 0.0]
    assert snap["totals"]["requests"] == 50
