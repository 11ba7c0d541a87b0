"""`python -m bench.run`: PUT/GET throughput and latency of Tessera, optionally
side by side with peer stores (Swift, Ceph RGW), in one interleaved run.

The measuring is done by the shared s3bench client (../shared/tools/s3bench,
shelled out to, never copied here): for 4 KiB, 1 MiB and 32 MiB objects at
concurrency 1 and 16 it PUTs, GETs (hash-checking every body) and DELETEs,
with all targets taking turns cell by cell, so machine load drifting during
the run hits every store alike. This module only brings the stores up (a
LocalCluster on ports 18050-18089 unless --endpoint is given; peers through
the tools' up.sh/down.sh), stops what it started, and prints a table with the
ratios Tessera/peer per row: throughput ratio > 1 and latency ratio < 1 mean
Tessera is the faster one.

Timings live here and only here: benchmarks are not tests and not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cli.local_cluster import Layout, LocalCluster

TOOLS_DIR_DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "tools"
TESSERA_LABEL = "tessera"
# The ports the shared tools leave to Tessera: 18050-18089. Metadata replica i
# takes 18052 + 2i (up to 3), etcd member i 18058 + 2i (up to 3; only layouts
# with replicated metadata have etcd), node i 18064 + 2i (up to 6).
S3_PORT = 18050
ADMIN_PORT = 18051
METADATA_PORT = 18052
METADATA_HTTP_PORT = 18053
ETCD_BASE_PORT = 18058
NODE_BASE_PORT = 18064
READY_TIMEOUT_SECONDS = 120.0
# Per peer: (tools folder, up.sh arguments, down.sh arguments, scratch dir with s3.env).
PEER_SCRIPTS = {
    "swift": ("swift-saio", ["--reset"], [], Path("/tmp/swift-saio")),
    "ceph": ("ceph-peer", [], ["--purge"], Path("/tmp/ceph-peer")),
}
PHASES = ("put", "get")


@dataclass(frozen=True)
class Target:
    label: str
    endpoint: str
    access_key: str
    secret_key: str

    def spec(self) -> str:
        return f"{self.label}={self.endpoint},{self.access_key},{self.secret_key}"


def parse_env(text: str) -> dict[str, str]:
    """NAME=VALUE[,NAME=VALUE...]; a comma not followed by NAME= belongs to
    the value (GRPC_EXPERIMENTS=-a,-b)."""
    pairs = [item.partition("=") for item in re.split(r",(?=[A-Za-z_]\w*=)", text) if item]
    if not pairs or any(not name or not sep for name, sep, _ in pairs):
        raise argparse.ArgumentTypeError("want NAME=VALUE[,NAME=VALUE...]")
    return {name: value for name, _, value in pairs}


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """label:NAME=VALUE[,NAME=VALUE...]"""
    label, sep, rest = text.partition(":")
    if not sep or not label or label == TESSERA_LABEL:
        raise argparse.ArgumentTypeError(f"want LABEL:NAME=VALUE,... (LABEL not {TESSERA_LABEL})")
    return label, parse_env(rest)


def parse_peer_endpoint(text: str) -> Target:
    """label=URL,ACCESS_KEY,SECRET_KEY"""
    label, sep, rest = text.partition("=")
    parts = rest.split(",")
    if not sep or len(parts) != 3 or not label:
        raise argparse.ArgumentTypeError("want label=URL,ACCESS_KEY,SECRET_KEY")
    return Target(label, *parts)


@contextmanager
def local_tessera(
    data_dir: Path | None, env: dict[str, str] | None = None, label: str = TESSERA_LABEL
) -> Iterator[Target]:
    """A fresh LocalCluster (the default shape) with env set for every process:
    the Tessera target on the benchmark ports, or a variant (any other label)
    on free ports. A temporary data dir is deleted afterwards unless the bench
    failed."""
    temp = data_dir is None
    root = Path(tempfile.mkdtemp(prefix=f"{label}-bench-")) if data_dir is None else data_dir
    if label == TESSERA_LABEL:
        ports: dict[str, Any] = {
            "s3_port": S3_PORT,
            "admin_port": ADMIN_PORT,
            "metadata_port": METADATA_PORT,
            "metadata_http_port": METADATA_HTTP_PORT,
            "node_base_port": NODE_BASE_PORT,
        }
        if "etcd_base_port" in {f.name for f in fields(Layout)}:
            ports["etcd_base_port"] = ETCD_BASE_PORT
        layout = Layout(data_dir=root, **ports)
    else:
        layout = Layout.with_free_ports(root)
    layout.extra_env.update(env or {})
    cluster = LocalCluster(layout)
    ok = False
    try:
        cluster.start()
        cluster.wait_ready(READY_TIMEOUT_SECONDS)
        log(f"{label} up at {cluster.endpoint} (data {root}, env {env or {}})")
        c = cluster.credentials
        yield Target(label, cluster.endpoint, c.access_key, c.secret_key)
        ok = True
    finally:
        cluster.stop()
        if temp and ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"tessera data and logs kept in {root}")


@contextmanager
def peer(name: str, tools_dir: Path, keep: bool) -> Iterator[Target]:
    """Brings a peer up with the tools' up.sh, reads its keys, stops it after."""
    folder, up_args, down_args, scratch = PEER_SCRIPTS[name]
    log(f"starting {name} ({folder}/up.sh; this can take minutes)")
    up = subprocess.run(
        [str(tools_dir / folder / "up.sh"), *up_args], stdout=sys.stderr, check=False
    )
    try:
        if up.returncode != 0:
            raise RuntimeError(f"{name} did not come up (up.sh exit {up.returncode})")
        env = read_env(scratch / "s3.env")
        yield Target(
            name,
            env["S3_ENDPOINT"],
            env.get("S3_ACCESS_KEY") or env["AWS_ACCESS_KEY_ID"],
            env.get("S3_SECRET_KEY") or env["AWS_SECRET_ACCESS_KEY"],
        )
    finally:
        if not keep:
            subprocess.run(
                [str(tools_dir / folder / "down.sh"), *down_args], stdout=sys.stderr, check=False
            )


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def run_s3bench(
    args: argparse.Namespace, targets: list[Target], json_path: Path, extra: list[str]
) -> tuple[int, dict[str, Any]]:
    """Runs s3bench over all targets interleaved. Its progress and its own
    table (with DELETE, LIST and client CPU) go to stderr; stdout is ours."""
    cmd = [
        args.s3bench_python,
        str(args.tools_dir / "s3bench" / "s3bench.py"),
        *(f"--target={t.spec()}" for t in targets),
        "--json",
        str(json_path),
        "--sizes",
        args.sizes,
        "--concurrency",
        args.concurrency,
    ]
    if args.quick:
        cmd.append("--quick")
    if args.repeats is not None:
        cmd += ["--repeats", str(args.repeats)]
    cmd += extra
    log("running: " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=sys.stderr, check=False)
    if not json_path.exists():
        raise RuntimeError(f"s3bench wrote no result (exit {proc.returncode})")
    return proc.returncode, json.loads(json_path.read_text())


def paired_ratio(values: list[float], baselines: list[float]) -> float | None:
    """Median over repeats of value/baseline, each pair measured back to back."""
    ratios = [v / b for v, b in zip(values, baselines, strict=False) if b]
    return statistics.median(ratios) if ratios else None


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per phase x cell: every target's MiB/s, ops/s, p50, p99, then
    Tessera/peer ratios of throughput and p50 latency."""
    labels = list(result["targets"])
    summary, raw = result["summary"], result["raw"]
    peers = [label for label in labels if label != TESSERA_LABEL]
    ours = TESSERA_LABEL in labels
    header = ["op", "size", "conc"]
    for label in labels:
        header += [f"{label} MiB/s", "ops/s", "p50 ms", "p99 ms"]
    if ours:
        for label in peers:
            header += [f"T/{label} thr", f"T/{label} p50"]
    rows = [header]
    for phase in PHASES:
        for cell in summary[labels[0]]["cells"]:
            size, conc = cell.split(" c")
            row = [phase.upper(), size, conc]
            for label in labels:
                m = summary[label]["cells"][cell][phase]
                flag = " ERR" if m["errors"] or m["verify_fail"] else ""
                row += [
                    f"{m['mib_s']:.1f}{flag}",
                    f"{m['ops_s']:.1f}",
                    f"{m['lat_ms_p50']:.1f}",
                    f"{m['lat_ms_p99']:.1f}",
                ]
            if ours:
                mine = [r[phase] for r in raw[TESSERA_LABEL]["cells"][cell]]
                for label in peers:
                    theirs = [r[phase] for r in raw[label]["cells"][cell]]
                    for metric in ("mib_s", "lat_ms_p50"):
                        ratio = paired_ratio([r[metric] for r in mine], [r[metric] for r in theirs])
                        row.append("n/a" if ratio is None else f"{ratio:.2f}x")
            rows.append(row)
    return rows


def format_table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(1, "|" + "|".join(" --- " for _ in rows[0]) + "|")
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def error_report(result: dict[str, Any]) -> list[str]:
    """The failing requests s3bench sampled, per target and phase."""
    lines = []
    for label, per_target in result["raw"].items():
        for cell, reps in per_target["cells"].items():
            for rep, r in enumerate(reps):
                for phase in ("put", "get", "delete"):
                    for sample in r[phase]["error_samples"]:
                        lines.append(f"{label} {phase.upper()} {cell} rep{rep}: {sample}")
    return lines


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Arguments not listed here are passed on to s3bench.py.",
    )
    p.add_argument("--endpoint", help="a running Tessera (default: start one on 18050-18089)")
    p.add_argument("--access-key", default=os.environ.get("TESSERA_ACCESS_KEY"))
    p.add_argument("--secret-key", default=os.environ.get("TESSERA_SECRET_KEY"))
    p.add_argument(
        "--data-dir",
        type=Path,
        help="data dir of the started cluster (default: a temp dir, deleted)",
    )
    p.add_argument(
        "--peers", default="", help="comma-separated peers to start and stop: swift, ceph"
    )
    p.add_argument(
        "--peer-endpoint",
        type=parse_peer_endpoint,
        action="append",
        default=[],
        metavar="LABEL=URL,AK,SK",
        help="an already running peer",
    )
    p.add_argument(
        "--env",
        type=parse_env,
        default={},
        metavar="NAME=VALUE,...",
        help="environment of every process of the started Tessera",
    )
    p.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE,...",
        help="also start a Tessera with this environment (free ports), compared as a peer: "
        "a lever measured before/after in one interleaved run",
    )
    p.add_argument("--keep-peers", action="store_true", help="do not stop started peers")
    p.add_argument("--quick", action="store_true", help="s3bench --quick (a few minutes)")
    p.add_argument("--repeats", type=int, help="repeats per cell and target")
    p.add_argument("--sizes", default="4KiB,1MiB,32MiB")
    p.add_argument("--concurrency", default="1,16")
    p.add_argument("--json", type=Path, help="write s3bench's full result JSON here")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    p.add_argument(
        "--tools-dir",
        type=Path,
        default=TOOLS_DIR_DEFAULT,
        help="the shared tools folder (default: ../shared/tools from the repo)",
    )
    p.add_argument(
        "--s3bench-python",
        default=sys.executable,
        help="a Python with s3bench's requirements (default: this one)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    args.tools_dir = args.tools_dir.resolve()
    peers = [name for name in args.peers.split(",") if name]
    unknown = set(peers) - set(PEER_SCRIPTS)
    if unknown:
        raise SystemExit(f"unknown peers {sorted(unknown)}; known: {sorted(PEER_SCRIPTS)}")
    if args.endpoint and not (args.access_key and args.secret_key):
        raise SystemExit("--endpoint needs --access-key and --secret-key")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        targets = [
            Target(TESSERA_LABEL, args.endpoint, args.access_key, args.secret_key)
            if args.endpoint
            else stack.enter_context(local_tessera(args.data_dir, args.env))
        ]
        for label, env in args.variant:
            targets.append(stack.enter_context(local_tessera(None, env, label)))
        for name in peers:
            try:
                targets.append(stack.enter_context(peer(name, args.tools_dir, args.keep_peers)))
            except RuntimeError as exc:
                log(f"skipping {name}: {exc}")
        targets += args.peer_endpoint
        json_path = args.json or Path(scratch) / "s3bench.json"
        rc, result = run_s3bench(args, targets, json_path, extra)
        print(format_table(table_rows(result), args.markdown))
        print(
            f"(throughput ratio > 1 and p50 ratio < 1: Tessera faster; medians of "
            f"{result['config']['repeats']} interleaved repeat(s); "
            f"started {result['meta']['started']}, "
            f"{result['meta']['total_seconds']:.0f} s)"
        )
        errors = error_report(result)
        for line in errors:
            print(f"error: {line}")
        if rc != 0:
            # Keep a started cluster's data and logs for the post-mortem.
            raise SystemExit(rc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
