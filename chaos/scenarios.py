"""The registry of named chaos scenarios, each a seeded schedule of fault steps.

A scenario's schedule is a pure function of (scenario name, seed, the node
layout): which process, when, for how long, which bytes to flip. The same seed
replays the same schedule. What is decided at run time, and said so in the
report, is only what depends on the cluster's own state: which etcd member is
the leader when a "metadata leader" step fires, and which shard files exist
when a bit-rot step picks among them (it picks by seeded index into the
sorted list).

Fault kinds (chaos/faults/ has one module per kind):
- kill        SIGKILL the targets; restarted after duration_seconds
- stop        SIGSTOP (a gray failure: the process hangs, its sockets stay open); SIGCONT after
- partition   iptables drops every loopback packet of the targets (their cgroup); lifted after
- latency     a userspace TCP proxy in front of one node adds delay and loss; cleared after
- bitrot      flip bytes in shard files (instant)
- torn_write  SIGKILL a node while large PUTs stream to it; restarted after
- clock_skew  the target runs under libfaketime with its wall clock offset (set at start)
- disk_full   the target's data directory is a small tmpfs (set at start)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ETCD_LEADER = "@etcd-leader"  # resolved when the step fires

# Faults that shape how a process is started (a wrapper, a mount): applied at setup.
SETUP_FAULTS = frozenset({"clock_skew", "disk_full", "latency", "partition"})


@dataclass(frozen=True)
class Step:
    at_seconds: float  # after the workload starts
    fault: str
    targets: tuple[str, ...]
    duration_seconds: float = 0.0  # 0: instant (nothing to heal)
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.params)
        held = f" for {self.duration_seconds:g} s" if self.duration_seconds else ""
        return f"t={self.at_seconds:g} s: {self.fault} {', '.join(self.targets)}{held}" + (
            f" ({extra})" if extra else ""
        )


@dataclass(frozen=True)
class Schedule:
    scenario: str
    seed: int
    run_seconds: float  # how long the workload runs
    steps: tuple[Step, ...]

    def setup_steps(self) -> list[Step]:
        return [s for s in self.steps if s.fault in SETUP_FAULTS]


Nodes = Sequence[tuple[str, str]]  # (node id, zone), as Layout.node_names()
Builder = Callable[[random.Random, Nodes], list[Step]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Builder
    run_seconds: float = 30.0
    smoke: bool = False  # in the CI smoke (tests/chaos/test_smoke.py)
    needs: tuple[str, ...] = field(default=())  # what must be installed/allowed


def _zones(nodes: Nodes) -> list[str]:
    return sorted({zone for _, zone in nodes})


def _in_zone(nodes: Nodes, zone: str) -> tuple[str, ...]:
    return tuple(n for n, z in nodes if z == zone)


def _node_kill(rng: random.Random, nodes: Nodes) -> list[Step]:
    victim = rng.choice([n for n, _ in nodes])
    return [Step(round(rng.uniform(5, 8), 1), "kill", (victim,), round(rng.uniform(13, 16), 1))]


def _zone_kill(rng: random.Random, nodes: Nodes) -> list[Step]:
    zone = rng.choice(_zones(nodes))
    return [Step(round(rng.uniform(5, 8), 1), "kill", _in_zone(nodes, zone), 15.0)]


def _leader_kill(rng: random.Random, nodes: Nodes) -> list[Step]:
    first = round(rng.uniform(5, 7), 1)
    return [
        Step(first, "kill", (ETCD_LEADER,), 5.0),
        Step(first + 8, "kill", (f"metadata-{rng.randint(1, 3)}",), 4.0),
    ]


def _sigstop(rng: random.Random, nodes: Nodes) -> list[Step]:
    victim = rng.choice([n for n, _ in nodes])
    return [Step(round(rng.uniform(5, 8), 1), "stop", (victim,), round(rng.uniform(12, 14), 1))]


def _partition_node(rng: random.Random, nodes: Nodes) -> list[Step]:
    victim = rng.choice([n for n, _ in nodes])
    return [Step(round(rng.uniform(5, 8), 1), "partition", (victim,), 14.0)]


def _partition_zone(rng: random.Random, nodes: Nodes) -> list[Step]:
    zone = rng.choice(_zones(nodes))
    return [Step(round(rng.uniform(5, 8), 1), "partition", _in_zone(nodes, zone), 14.0)]


def _latency(rng: random.Random, nodes: Nodes) -> list[Step]:
    victim = rng.choice([n for n, _ in nodes])
    params = (("delay_ms", rng.choice([50, 100, 200])), ("loss", rng.choice([0.02, 0.05])))
    return [Step(round(rng.uniform(4, 6), 1), "latency", (victim,), 12.0, params)]


def _bitrot(rng: random.Random, nodes: Nodes) -> list[Step]:
    # Which files and offsets: indices into the sorted shard list, drawn here.
    return [
        Step(
            round(rng.uniform(8, 12), 1),
            "bitrot",
            ("shards",),
            0.0,
            (("files", 6), ("flips_per_file", 3), ("pick_seed", rng.getrandbits(32))),
        )
    ]


def _torn_write(rng: random.Random, nodes: Nodes) -> list[Step]:
    victim = rng.choice([n for n, _ in nodes])
    return [
        Step(
            round(rng.uniform(5, 7), 1),
            "torn_write",
            (victim,),
            6.0,
            (("object_bytes", 24 * 1024 * 1024), ("kill_after_seconds", 0.4)),
        )
    ]


def _clock_skew(rng: random.Random, nodes: Nodes) -> list[Step]:
    node = rng.choice([n for n, _ in nodes])
    replica = f"metadata-{rng.randint(1, 3)}"
    offset = rng.choice(["+600", "-600", "+3600"])
    return [Step(0.0, "clock_skew", (node, replica), 0.0, (("offset_seconds", offset),))]


def _disk_full(rng: random.Random, nodes: Nodes) -> list[Step]:
    node = rng.choice([n for n, _ in nodes])
    return [
        Step(
            0.0,
            "disk_full",
            (node,),
            0.0,
            (("size_bytes", 8 * 1024 * 1024), ("free_bytes", 768 * 1024)),
        )
    ]


REGISTRY: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("node-kill", "SIGKILL one storage node, restart it", _node_kill, smoke=True),
        Scenario("zone-kill", "SIGKILL both nodes of one zone, restart them", _zone_kill),
        Scenario(
            "metadata-leader-kill",
            "SIGKILL the etcd leader (the metadata log's leader), then a metadata replica",
            _leader_kill,
            smoke=True,
        ),
        Scenario(
            "node-sigstop", "SIGSTOP one node (a gray failure), then SIGCONT", _sigstop, smoke=True
        ),
        Scenario(
            "node-partition",
            "drop every loopback packet of one node (iptables, its cgroup)",
            _partition_node,
            needs=("root", "iptables", "cgroup2"),
        ),
        Scenario(
            "zone-partition",
            "drop every loopback packet of one zone's nodes",
            _partition_zone,
            needs=("root", "iptables", "cgroup2"),
        ),
        Scenario(
            "node-latency",
            "delay and lose traffic to one node through a userspace TCP proxy",
            _latency,
        ),
        Scenario("bitrot", "flip bytes in shard files on disk", _bitrot, smoke=True),
        Scenario("torn-write", "SIGKILL a node while large PUTs stream to it", _torn_write),
        Scenario(
            "clock-skew",
            "one node and one metadata replica run with their wall clock offset (libfaketime)",
            _clock_skew,
            needs=("faketime",),
        ),
        Scenario(
            "disk-full",
            "one node's data directory is a small tmpfs that fills up",
            _disk_full,
            needs=("root",),
        ),
    ]
}


def schedule(name: str, seed: int, nodes: Nodes, run_seconds: float | None = None) -> Schedule:
    """The fault schedule of scenario name under seed: a pure function of its inputs."""
    scenario = REGISTRY[name]
    rng = random.Random(f"{name}:{seed}")
    steps = sorted(scenario.build(rng, nodes), key=lambda s: s.at_seconds)
    return Schedule(name, seed, run_seconds or scenario.run_seconds, tuple(steps))
