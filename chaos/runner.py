"""One chaos run: start a cluster, put the workload on it, inject the scenario's
seeded fault schedule, heal, wait for redundancy to converge, read everything
back, check the invariants, compute the figures, write the report.

Invariant: whatever happens, the cluster's processes, iptables rules, cgroups,
mounts and proxies are removed before run() returns (ChaosCluster.close in a
finally); a fault that cannot be injected is recorded as skipped with its
reason, never passed silently.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import faults, figures, invariants
from chaos.cluster import ChaosCluster, Redundancy
from chaos.faults import bitrot
from chaos.history import Record
from chaos.scenarios import ETCD_LEADER, Schedule, Step, schedule
from chaos.workload import Workload
from tessera.model import NODE_UP

BUCKET = "chaos"
SAMPLE_SECONDS = 1.0
READY_SECONDS = 90.0
REPLICAS_EQUAL_SECONDS = 30.0
STILL_SECONDS = 8.0
NODE_COUNTERS = (  # node metrics whose change over a run the report shows
    "tessera_node_shards_rebuilt_total",
    "tessera_node_scrub_corrupt",
    "tessera_node_shards_quarantined",
    "tessera_node_checksum_failures",
)
INSTANT_FAULTS = frozenset({"bitrot", "clock_skew", "disk_full"})


@dataclass(frozen=True)
class Event:
    t: float  # seconds since the workload started (negative: before it)
    action: str  # inject | heal | skipped | setup | note
    fault: str
    targets: tuple[str, ...]
    detail: str = ""


@dataclass
class Samples:
    down: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    redundancy: list[tuple[float, int, int, int]] = field(
        default_factory=list
    )  # t, versions, full, margin
    repair_metrics: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class RunResult:
    schedule: Schedule
    revision: str
    started_at: str
    shape: str
    events: list[Event] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    samples: Samples = field(default_factory=Samples)
    verdicts: list[invariants.Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    node_counters: dict[str, float] = field(default_factory=dict)
    final_redundancy: Redundancy | None = None
    converged_at: float | None = None
    healed_at: float | None = None
    workload_seconds: float = 0.0
    repair_present: bool = False
    geometry: tuple[int, int] = (4, 2)
    zones: int = 3
    error: str = ""
    flipped: list[tuple[str, int, str]] = field(default_factory=list)  # version, shard, node

    @property
    def inconclusive(self) -> bool:
        """A scheduled fault was not injected (skipped, or its injection failed)."""
        return any(
            e.action == "skipped" or (e.action == "note" and "inject failed" in e.detail)
            for e in self.events
        )

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and not self.inconclusive
            and all(v.held is not False for v in self.verdicts)
        )

    @property
    def verdict(self) -> str:
        if self.error or any(v.held is False for v in self.verdicts):
            return "FAILED"
        return "INCONCLUSIVE (a fault was not injected)" if self.inconclusive else "PASSED"


def git_revision() -> str:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return rev + (" (with uncommitted changes)" if dirty else "")


class Sampler:
    """Polls the cluster once a second: the map's down nodes, redundancy of the
    bucket's versions, repair metrics when the build has them."""

    def __init__(self, cluster: ChaosCluster, workload: Workload, samples: Samples) -> None:
        self.cluster, self.workload, self.samples = cluster, workload, samples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="chaos-sampler")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample_once()

    def sample_once(self) -> Redundancy | None:
        t = self.workload.now()
        try:
            cmap = self.cluster.cluster_map()
            down = frozenset(n.node_id for n in cmap.nodes if n.state != NODE_UP)
            self.samples.down.append((t, down))
            found = self.cluster.redundancy(BUCKET)
            self.samples.redundancy.append((t, found.versions, found.full, found.min_margin))
            # The repair leader's figures (every replica exports the gauges; only
            # the leader's move): the replica whose tessera_repair_leader is 1.
            for name in self.cluster.layout.metadata_names():
                metrics = self.cluster.metrics(name)
                repair = {k: v for k, v in metrics.items() if k.startswith("tessera_repair_")}
                if repair and repair.get("tessera_repair_leader", 1.0) == 1.0:
                    self.samples.repair_metrics.append((t, repair))
                    break
            return found
        except Exception as exc:  # the cluster is being broken: a failed sample is data
            self.samples.errors.append((t, f"{type(exc).__name__}: {str(exc)[:120]}"))
            return None


class Run:
    def __init__(
        self,
        scenario: str,
        seed: int,
        work_dir: Path,
        run_seconds: float | None = None,
        convergence_seconds: float = 60.0,
    ) -> None:
        self.work_dir = work_dir
        self.cluster = ChaosCluster(work_dir / "cluster", seed)
        lay = self.cluster.layout
        self.schedule = schedule(scenario, seed, lay.node_names(), run_seconds)
        self.convergence_seconds = convergence_seconds
        self.result = RunResult(
            self.schedule,
            git_revision(),
            time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            f"{len(lay.etcd_names())} etcd members, {len(lay.metadata_names())} metadata "
            f"replicas, {lay.zones} zones x {lay.nodes_per_zone} nodes, 1 gateway",
            zones=lay.zones,
        )
        creds = self.cluster.local.credentials
        self.workload = Workload(
            self.cluster.local.endpoint, creds.access_key, creds.secret_key, BUCKET, seed
        )
        self.sampler = Sampler(self.cluster, self.workload, self.result.samples)
        self.skipped: set[int] = set()
        self.held: dict[int, Any] = {}  # step index -> what heal() needs
        self.threads: list[threading.Thread] = []

    # ------------------------------------------------------------ events

    def event(self, action: str, step: Step, targets: tuple[str, ...], detail: str = "") -> None:
        t = self.workload.now() if self.workload.t0 else -1.0
        self.result.events.append(Event(round(t, 2), action, step.fault, targets, detail))

    # ------------------------------------------------------------ the run

    def execute(self) -> RunResult:
        try:
            self._setup()
            self.cluster.start(READY_SECONDS)
            self.workload.prepare()
            self.result.notes += self.workload.notes
            self.result.node_counters = self._node_counters()
            self.workload.start()
            self.sampler.start()
            self._timeline()
            self.workload.stop()
            self.result.workload_seconds = self.workload.now()
            self._heal_all()
            self._converge()
            self.sampler.stop()
            self._final_checks()
        except Exception:
            self.result.error = traceback.format_exc()
        finally:
            self.workload.stop()
            self.sampler.stop()
            for t in self.threads:
                t.join(120)
            self.result.records = list(self.workload.records)
            self.result.leftovers = self.cluster.close()
        return self.result

    def _setup(self) -> None:
        for index, step in enumerate(self.schedule.steps):
            reason = faults.missing(step.fault)
            if reason:
                self.skipped.add(index)
                self.event("skipped", step, step.targets, f"cannot inject: {reason}")
                continue
            if step.fault == "clock_skew":
                for name in step.targets:
                    self.cluster.skew_clock(name, str(step.param("offset_seconds")))
                self.event(
                    "setup", step, step.targets, f"wall clock {step.param('offset_seconds')} s"
                )
            elif step.fault == "disk_full":
                for name in step.targets:
                    self.cluster.small_disk(
                        name, int(step.param("size_bytes")), int(step.param("free_bytes", 0))
                    )
                self.event(
                    "setup",
                    step,
                    step.targets,
                    f"tmpfs of {step.param('size_bytes')} bytes, "
                    f"{step.param('free_bytes', 0)} free",
                )
            elif step.fault == "latency":
                for name in step.targets:
                    self.held[index] = self.cluster.put_behind_proxy(name)
                self.event("setup", step, step.targets, "behind a pass-through proxy")

    def _timeline(self) -> None:
        actions: list[tuple[float, int, str]] = []
        for index, step in enumerate(self.schedule.steps):
            if index in self.skipped or step.fault in ("clock_skew", "disk_full"):
                continue
            actions.append((step.at_seconds, index, "inject"))
            if step.duration_seconds:
                actions.append((step.at_seconds + step.duration_seconds, index, "heal"))
        actions.sort()
        for at, index, what in actions:
            if at >= self.schedule.run_seconds:
                break
            self._sleep_until(at)
            step = self.schedule.steps[index]
            try:
                self._inject(index, step) if what == "inject" else self._heal(index, step)
            except Exception as exc:
                self.event("note", step, step.targets, f"{what} failed: {exc!r}")
        self._sleep_until(self.schedule.run_seconds)

    def _sleep_until(self, at: float) -> None:
        while (left := at - self.workload.now()) > 0:
            time.sleep(min(left, 0.2))

    def _resolve(self, targets: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.cluster.etcd_leader() if t == ETCD_LEADER else t for t in targets)

    def _inject(self, index: int, step: Step) -> None:
        local = self.cluster.local
        targets = self._resolve(step.targets)
        if step.fault == "kill":
            for name in targets:
                local.kill(name)
            self.held[index] = targets
            self.event("inject", step, targets, "SIGKILL")
        elif step.fault == "stop":
            for name in targets:
                local.signal(name, signal.SIGSTOP)
            self.held[index] = targets
            self.event("inject", step, targets, "SIGSTOP")
        elif step.fault == "partition":
            self.held[index] = self.cluster.partition(list(targets))
            self.event("inject", step, targets, "iptables DROP of their loopback packets")
        elif step.fault == "latency":
            delay, loss = step.param("delay_ms") / 1000.0, step.param("loss")
            self.held[index].impair(delay, loss)
            self.event(
                "inject", step, targets, f"+{delay * 1000:g} ms per segment, {loss:.0%} loss"
            )
        elif step.fault == "bitrot":
            files = bitrot.shard_files(local.data_dir / "nodes")
            plan = bitrot.plan(
                files, step.param("pick_seed"), step.param("files"), step.param("flips_per_file")
            )
            plan = bitrot.apply(plan)
            for f in plan:
                version, shard = f.path.name.rsplit(".", 1)
                node = f.path.parent.parent.parent.name
                self.result.flipped.append((version, int(shard), node))
            shown = "; ".join(
                f"{f.path.parent.parent.parent.name}/{f.path.name} @ {list(f.offsets)}"
                for f in plan
            )
            self.event("inject", step, targets, f"{len(plan)} of {len(files)} shard files: {shown}")
        elif step.fault == "torn_write":
            key = f"torn/{index}"
            size = int(step.param("object_bytes"))
            writer = threading.Thread(target=self.workload.big_put, args=(key, size), daemon=True)
            writer.start()
            self.threads.append(writer)
            time.sleep(float(step.param("kill_after_seconds")))
            for name in targets:
                local.kill(name)
            self.held[index] = targets
            self.event("inject", step, targets, f"SIGKILL while a {size} byte PUT of {key} streams")

    def _heal(self, index: int, step: Step) -> None:
        held = self.held.pop(index, None)
        if held is None:
            return
        if step.fault in ("kill", "torn_write"):
            for name in held:
                self.cluster.start_process(name)
            self.event("heal", step, held, "restarted")
        elif step.fault == "stop":
            for name in held:
                self.cluster.local.signal(name, signal.SIGCONT)
            self.event("heal", step, held, "SIGCONT")
        elif step.fault == "partition":
            held.lift()
            self.event("heal", step, step.targets, "rules removed")
        elif step.fault == "latency":
            held.clear()
            self.event("heal", step, step.targets, "proxy back to pass-through")

    def _heal_all(self) -> None:
        for index in sorted(self.held):
            step = self.schedule.steps[index]
            if step.fault not in INSTANT_FAULTS:
                self._heal(index, step)
        self.result.healed_at = self.workload.now()
        self.cluster.local.wait_ready(READY_SECONDS)

    def _converge(self) -> None:
        """Waits until every version is at full redundancy, or the time is up; without
        repair in the build, only until redundancy stops changing (restarted nodes
        re-registered) for STILL_SECONDS."""
        deadline = time.monotonic() + self.convergence_seconds
        last: tuple[int, int] | None = None
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            found = self.sampler.sample_once()
            if found is not None and found.all_full:
                self.result.converged_at = self.workload.now()
                return
            now = (found.versions, found.full) if found is not None else None
            if now != last:
                last, still_since = now, time.monotonic()
            repair = bool(self.result.samples.repair_metrics)
            if not repair and time.monotonic() - still_since > STILL_SECONDS:
                return
            time.sleep(SAMPLE_SECONDS)

    def _verified_redundancy(self) -> Redundancy:
        """Every shard read back with its checksums. Reading is what finds a
        corrupt shard that no scrub pass reached yet (the node quarantines it and
        reports it), so with repair in the build this waits, within the
        convergence time, for repair to rebuild what the reads found."""
        deadline = time.monotonic() + self.convergence_seconds
        while True:
            found = self.cluster.redundancy(BUCKET, verify=True)
            healthy = found.all_full and not found.shard_problems
            if healthy or not self.result.samples.repair_metrics:
                return found
            if time.monotonic() > deadline:
                return found
            time.sleep(SAMPLE_SECONDS)

    def _final_checks(self) -> None:
        self.workload.final_reads()
        records = list(self.workload.records)
        self.result.verdicts = invariants.check_history(records, self.workload.conditional_enforced)
        self.result.final_redundancy = self._verified_redundancy()
        self.result.verdicts.append(self._redundancy_verdict())
        self.result.verdicts.append(self._replicas_verdict())
        self.result.repair_present = bool(self.result.samples.repair_metrics)
        after = self._node_counters()
        self.result.node_counters = {
            k: after.get(k, 0.0) - self.result.node_counters.get(k, 0.0) for k in after
        }
        versions = self.cluster.versions(BUCKET)
        if versions and versions[0].placement:
            self.result.geometry = (versions[0].data_shards, versions[0].parity_shards)

    def _redundancy_verdict(self) -> invariants.Verdict:
        name = "after repair converges, every object is at full redundancy with the zone rule"
        found = self.result.final_redundancy
        assert found is not None
        problems = [*found.zone_rule_broken, *found.shard_problems]
        figures_text = (
            f"{found.full}/{found.versions} versions with every shard healthy on an up node; "
            f"zone rule broken for {len(found.zone_rule_broken)}"
        )
        if found.all_full and not problems:
            return invariants.Verdict(name, True, figures_text)
        if not self.result.samples.repair_metrics:
            return invariants.Verdict(
                name,
                None,
                "repair not available in this build (no tessera_repair_* metrics): invariant "
                f"not checked. Measured anyway: {figures_text}",
                tuple(problems[:10]),
            )
        return invariants.Verdict(name, False, figures_text, tuple(problems[:10]))

    def _replicas_verdict(self) -> invariants.Verdict:
        name = "the metadata replicas agree"
        deadline = time.monotonic() + REPLICAS_EQUAL_SECONDS
        statuses: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                statuses = self.cluster.replica_statuses()
                revisions = {s["applied_revision"] for s in statuses.values()}
                digests = {s["state_digest"] for s in statuses.values()}
                if len(revisions) == 1 and len(digests) == 1:
                    rev = next(iter(revisions))
                    return invariants.Verdict(
                        name, True, f"{len(statuses)} replicas at revision {rev}, equal digests"
                    )
            time.sleep(0.5)
        shown = tuple(
            f"{n}: revision {s['applied_revision']}, digest {str(s['state_digest'])[:12]}"
            for n, s in statuses.items()
        )
        return invariants.Verdict(name, False, "replicas differ after 30 s", shown)

    def _node_counters(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for node_id, _ in self.cluster.layout.node_names():
            for sample, value in self.cluster.metrics(node_id).items():
                if sample.startswith(NODE_COUNTERS):
                    name = sample.split("{")[0]
                    if name.endswith("_created"):
                        continue
                    totals[name] = totals.get(name, 0.0) + value
        return totals


def requests_for_figures(records: list[Record]) -> list[figures.Request]:
    from chaos.history import FINAL_GET

    return [figures.Request(r.start, r.end, r.answered) for r in records if r.kind != FINAL_GET]


def run(
    scenario: str,
    seed: int,
    out_dir: Path,
    run_seconds: float | None = None,
    convergence_seconds: float = 60.0,
) -> tuple[RunResult, Path]:
    """Runs one scenario and writes its report under out_dir/<scenario>-<seed>/."""
    from chaos import report

    target = out_dir / f"{scenario}-seed{seed}"
    target.mkdir(parents=True, exist_ok=True)
    work = target / "work"
    result = Run(scenario, seed, work, run_seconds, convergence_seconds).execute()
    path = report.write(result, target)
    return result, path
