"""Fault schedules are a pure function of scenario, seed and layout."""

from __future__ import annotations

from chaos.scenarios import ETCD_LEADER, REGISTRY, schedule
from cli.local_cluster import Layout

NODES = Layout(data_dir=__import__("pathlib").Path("/nonexistent")).node_names()


def test_same_seed_same_schedule() -> None:
    for name in REGISTRY:
        assert schedule(name, 42, NODES) == schedule(name, 42, NODES), name


def test_seeds_vary_the_schedule() -> None:
    for name in ("node-kill", "bitrot", "node-sigstop"):
        distinct = {schedule(name, seed, NODES).steps for seed in range(20)}
        assert len(distinct) > 5, name


def test_targets_are_processes_of_the_layout() -> None:
    known = {n for n, _ in NODES} | {f"metadata-{i}" for i in (1, 2, 3)} | {ETCD_LEADER, "shards"}
    for name in REGISTRY:
        for seed in range(10):
            s = schedule(name, seed, NODES)
            assert s.steps, name
            for step in s.steps:
                assert set(step.targets) <= known, (name, step)
                assert 0 <= step.at_seconds < s.run_seconds


def test_zone_kill_takes_exactly_one_whole_zone() -> None:
    zones = dict(NODES)
    for seed in range(20):
        (step,) = schedule("zone-kill", seed, NODES).steps
        assert len({zones[t] for t in step.targets}) == 1
        assert len(step.targets) == 2


def test_smoke_set() -> None:
    smoke = {s.name for s in REGISTRY.values() if s.smoke}
    assert smoke == {"node-kill", "node-sigstop", "bitrot", "metadata-leader-kill"}
