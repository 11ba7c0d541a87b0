"""The CI chaos smoke: a short seeded run of each smoke scenario (node kill,
SIGSTOP, bit rot, metadata leader kill) on its own real cluster, through the
same code as `tessera chaos run`. Each must end with every invariant held or
honestly not checked, nothing left behind, and a report naming its seed and
revision. The full matrix is `tessera chaos run --all` (docs/chaos.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos import runner
from chaos.scenarios import REGISTRY

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SEED = 20260101
RUN_SECONDS = 25.0
CONVERGENCE_SECONDS = 20.0
SMOKE = sorted(s.name for s in REGISTRY.values() if s.smoke)


@pytest.mark.parametrize("scenario", SMOKE)
def test_smoke(scenario: str, tmp_path: Path) -> None:
    result, report = runner.run(scenario, SEED, tmp_path, RUN_SECONDS, CONVERGENCE_SECONDS)
    text = report.read_text()
    print(text)
    assert not result.error, result.error
    assert not result.leftovers, result.leftovers
    assert f"**seed**: {SEED}" in text and "**git revision**" in text
    assert (report.parent / "timeline.png").stat().st_size > 10_000
    injected = [e for e in result.events if e.action == "inject"]
    assert injected, "no fault was injected"
    assert not [e for e in result.events if e.action == "skipped"]
    assert sum(r.answered for r in result.records) > 50, "the workload hardly ran"
    failed = [v for v in result.verdicts if v.held is False]
    assert not failed, [(v.name, v.detail, v.violations) for v in failed]
    assert result.passed
