"""The shared test settings are in force (tests/conftest.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def test_hypothesis_has_no_timing_checks() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
