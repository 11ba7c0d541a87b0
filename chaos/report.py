"""The report of a chaos run: report.md, timeline.png and history.jsonl (every
recorded request) in one directory.

The seed and git revision come first; then what was done (the schedule and
the events as they happened, skipped faults with their reason), what held
(every invariant, with violations), and the figures. Every figure is either
measured in this run or labelled as an assumption; what the build lacks
(repair, multipart) is said, not papered over.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from chaos import figures
from chaos.runner import RunResult, requests_for_figures

BUCKET_SECONDS = 2.0
AFR = 0.02  # annual disk failure rate assumed for the durability estimate (Backblaze: ~1-2 %)
REFERENCE_REPAIR_HOURS = (1.0, 24.0)


def _fmt(value: float | None, unit: str = "s", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f} {unit}".strip()


def _fault_windows(result: RunResult) -> list[tuple[float, float, str]]:
    windows: list[tuple[float, float, str]] = []
    end_of_run = result.workload_seconds or result.schedule.run_seconds
    open_at: dict[tuple[str, tuple[str, ...]], float] = {}
    for e in result.events:
        if e.action == "inject":
            if e.fault in ("bitrot",):
                windows.append((e.t, e.t, f"{e.fault} {','.join(e.targets)}"))
            else:
                open_at[(e.fault, e.targets)] = e.t
        elif e.action == "heal":
            for (fault, targets), t in list(open_at.items()):
                if fault == e.fault and (targets == e.targets or e.fault == "partition"):
                    windows.append((t, e.t, f"{fault} {','.join(targets)}"))
                    del open_at[(fault, targets)]
                    break
    for (fault, targets), t in open_at.items():
        windows.append((t, end_of_run, f"{fault} {','.join(targets)}"))
    return sorted(windows)


def _durability_lines(result: RunResult, repair_seconds: float | None) -> list[str]:
    k, m = result.geometry
    lines = []
    if repair_seconds is not None and result.repair_present:
        d = figures.durability(k, m, result.zones, repair_seconds, AFR)
        lines += [
            f"- From the measured repair time ({repair_seconds:.1f} s), {k}+{m} over "
            f"{result.zones} zones, annual disk failure rate {AFR:.0%} (assumed): "
            f"MTTDL {d.mttdl_hours:.3g} h, **{d.annual_nines:.1f} nines** per placement group "
            f"per year.",
            f"- Zone loss ({d.shards_per_zone} shards per zone): given one zone lost, "
            f"{d.zone_loss_nines:.1f} nines of surviving until its shards are rebuilt"
            + (" (a zone loss alone loses data)" if d.zone_loss_nines == 0 else "")
            + ".",
        ]
    else:
        lines.append(
            "- Not computed from this run: no repair time was measured (repair is not "
            "available in this build, or redundancy did not converge through repair)."
        )
    lines.append(
        f"- For reference only — **assumed** repair times, not measured here ({k}+{m}, "
        f"AFR {AFR:.0%}):"
    )
    for hours in REFERENCE_REPAIR_HOURS:
        d = figures.durability(k, m, result.zones, hours * 3600, AFR)
        zone = (
            "a zone loss alone loses data"
            if d.zone_loss_nines == 0
            else f"{d.zone_loss_nines:.1f} nines of surviving a zone loss"
        )
        lines.append(
            f"  - repair in {hours:g} h: {d.annual_nines:.1f} nines per year; "
            f"{d.shards_per_zone} shards per zone, {zone}"
        )
    return lines


def _timeline_png(result: RunResult, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    requests = requests_for_figures(result.records)
    until = max(result.workload_seconds, 1.0)
    rows = figures.buckets(requests, BUCKET_SECONDS, until)
    xs = [b.start for b in rows]
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    axes[0].plot(xs, [b.succeeded / BUCKET_SECONDS for b in rows], label="succeeded/s")
    axes[0].plot(xs, [(b.requests - b.succeeded) / BUCKET_SECONDS for b in rows],
                 color="tab:red", label="failed/s")  # fmt: skip
    axes[0].set_ylabel("requests/s")
    axes[0].legend(loc="upper right")
    axes[1].plot(xs, [b.p50_seconds * 1000 for b in rows], label="p50")
    axes[1].plot(xs, [b.p99_seconds * 1000 for b in rows], label="p99")
    axes[1].set_ylabel("latency (ms)")
    axes[1].set_yscale("log")
    axes[1].legend(loc="upper right")
    red = result.samples.redundancy
    axes[2].plot([t for t, *_ in red], [full / v if v else 1.0 for t, v, full, _ in red],
                 label="share at full redundancy")  # fmt: skip
    axes[2].set_ylabel("full redundancy")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_xlabel("seconds since the workload started")
    for start, end, label in _fault_windows(result):
        for ax in axes:
            if end > start:
                ax.axvspan(start, end, color="orange", alpha=0.2)
            else:
                ax.axvline(start, color="purple", linestyle="--")
        axes[0].annotate(label, (start, 0), xytext=(2, 2), textcoords="offset points",
                         fontsize=7, rotation=90, va="bottom")  # fmt: skip
    fig.suptitle(f"{result.schedule.scenario}, seed {result.schedule.seed}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def render(result: RunResult, png_written: bool) -> str:
    s = result.schedule
    out = [
        f"# Chaos run: {s.scenario}",
        "",
        f"- **seed**: {s.seed} (replay: "
        f"`tessera chaos run --scenario {s.scenario} --seed {s.seed}`)",
        f"- **git revision**: {result.revision}",
        f"- started: {result.started_at}; cluster: {result.shape}",
        f"- **result: {result.verdict}**",
        "",
        "## What was done",
        "",
        f"Workload for {result.workload_seconds:.1f} s (4 boto3 workers: PUT, GET, overwrite, "
        "DELETE, LIST, conditional PUT; multipart when supported). Fault schedule "
        "(a pure function of scenario and seed):",
        "",
        *[f"- {step.describe()}" for step in s.steps],
        "",
        "As it happened (t in seconds since the workload started):",
        "",
        *[
            f"- t={e.t:.1f}: {e.action} {e.fault} {', '.join(e.targets)}"
            + (f" — {e.detail}" if e.detail else "")
            for e in result.events
        ],
        "",
    ]
    if result.error:
        out += ["**The run itself failed:**", "", "```", result.error.strip()[-3000:], "```", ""]
    out += ["## What held", "", "| invariant | status | detail |", "| --- | --- | --- |"]
    for v in result.verdicts:
        out.append(f"| {v.name} | **{v.status}** | {v.detail} |")
    for v in result.verdicts:
        if v.violations:
            out += ["", f"Violations of “{v.name}”:", "", *[f"- `{x}`" for x in v.violations]]
    out += ["", "## Figures", ""]
    out += _figures_lines(result)
    if png_written:
        out += ["", "![timeline](timeline.png)", ""]
    else:
        out += ["", "(no timeline: matplotlib is not installed — `pip install tessera[chaos]`)"]
    if result.notes or result.leftovers:
        out += ["", "## Notes", ""]
        out += [f"- {n}" for n in result.notes]
        out += [f"- NOT CLEANED UP: {x}" for x in result.leftovers]
    return "\n".join(out) + "\n"


def _figures_lines(result: RunResult) -> list[str]:
    requests = requests_for_figures(result.records)
    windows = [(a, b, label) for a, b, label in _fault_windows(result) if b > a]
    ok_latencies = [r.end - r.start for r in requests if r.ok]
    lines = [
        f"- requests: {len(requests)}; availability over the run "
        f"{_fmt(100 * figures.availability(requests), '%')}; latency p50 "
        f"{_fmt(1000 * figures.percentile(ok_latencies, 0.5), 'ms', 0)}, p99 "
        f"{_fmt(1000 * figures.percentile(ok_latencies, 0.99), 'ms', 0)}",
    ]
    for start, end, label in windows:
        during = [r for r in requests if start <= r.start < end]
        lat = [r.end - r.start for r in during if r.ok]
        lines.append(
            f"- during {label} (t={start:.1f} to {end:.1f}): {len(during)} requests, availability "
            f"{_fmt(100 * figures.availability(during), '%')}, p50 "
            f"{_fmt(1000 * figures.percentile(lat, 0.5), 'ms', 0)}, p99 "
            f"{_fmt(1000 * figures.percentile(lat, 0.99), 'ms', 0)}"
        )
    injected = [e for e in result.events if e.action == "inject"]
    for e in injected:
        for target in e.targets:
            if target.startswith("node-") and e.fault in (
                "kill",
                "stop",
                "partition",
                "torn_write",
            ):
                detected = figures.time_to_detect(e.t, target, result.samples.down)
                lines.append(
                    f"- time to detect {target} down ({e.fault}): "
                    + (_fmt(detected) if detected is not None else "not detected during the run")
                )
    first_fault = min((e.t for e in injected), default=None)
    red = [(t, v == full) for t, v, full, _ in result.samples.redundancy]
    repair_seconds = None
    if first_fault is not None:
        full_after = figures.time_to_full_redundancy(first_fault, red)
        degraded = any(not ok for t, ok in red if t >= first_fault)
        how = (
            "through repair"
            if result.repair_present
            else "by healing the fault (restart, SIGCONT, rules lifted), not by repair"
        )
        if not degraded:
            lines.append("- redundancy: no version was seen below full redundancy")
        elif full_after is None:
            lines.append("- time to full redundancy: not reached")
        else:
            lines.append(
                f"- time to full redundancy after the first fault: {_fmt(full_after)}, {how}"
            )
            if result.repair_present:
                repair_seconds = full_after
    margins = [margin for _, _, _, margin in result.samples.redundancy]
    if margins:
        lines.append(f"- fewest spare shards seen for any version: {min(margins)}")
    final = result.final_redundancy
    if final is not None:
        lines.append(
            f"- after the run: {final.full}/{final.versions} versions at full redundancy "
            f"(every shard read back and checksummed from its node)"
        )
    if final is not None and result.flipped:
        current = [f for f in result.flipped if f[0] in final.current]
        caught = [f for f in current if (f[0], f[1]) in final.bad_shards]
        lines.append(
            f"- bit rot: {len(result.flipped)} shards flipped; {len(current)} belong to versions "
            f"still current after the run (the rest were overwritten or deleted); of those, "
            f"{len(caught)} failed their checksum on the final read from their node"
            + (
                ""
                if len(caught) == len(current)
                else f" and {len(current) - len(caught)} were repaired or passed undetected: "
                + ", ".join(
                    f"{v}.{i} on {n}" for v, i, n in current if (v, i) not in final.bad_shards
                )
            )
        )
    if result.repair_present:
        last = result.samples.repair_metrics[-1][1]
        first = result.samples.repair_metrics[0][1]
        for name in sorted(last):
            if name.endswith("_bytes_total"):  # counters: what the run added
                added = last[name] - first.get(name, 0.0)
                lines.append(f"- repair over the run: {name} +{added:.0f}")
    else:
        lines.append(
            "- repair bytes: repair not available in this build (no tessera_repair_* metrics)"
        )
    for name, delta in sorted(result.node_counters.items()):
        lines.append(f"- node counters over the run: {name} +{delta:.0f}")
    lines += ["", "Estimated annual durability (Markov MTTDL, chaos/figures.py):", ""]
    lines += _durability_lines(result, repair_seconds)
    return lines


def write(result: RunResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    png = _timeline_png(result, directory / "timeline.png")
    path = directory / "report.md"
    path.write_text(render(result, png))
    with open(directory / "history.jsonl", "w") as f:
        for r in result.records:
            f.write(json.dumps(dataclasses.asdict(r)) + "\n")
    return path
