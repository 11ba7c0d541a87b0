"""`tessera chaos list | run`: the operator's entry point to the chaos harness.

run --scenario NAME --seed N   one scenario, report in --out/<scenario>-seed<N>/
run --all --seed N             the full matrix, one after another, plus an index
run --smoke --seed N           the scenarios the CI smoke runs
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from chaos.scenarios import REGISTRY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="chaos_command", required=True)
    sub.add_parser("list", help="list the scenarios")
    run = sub.add_parser("run", help="run scenarios on a fresh local cluster, write reports")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", choices=sorted(REGISTRY))
    which.add_argument("--all", action="store_true", help="the full matrix")
    which.add_argument("--smoke", action="store_true", help="the CI smoke scenarios")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--out", default="chaos-reports", help="report directory")
    run.add_argument("--seconds", type=float, default=None, help="workload duration override")
    run.add_argument(
        "--convergence-seconds", type=float, default=60.0, help="wait for full redundancy"
    )
    run.add_argument("--keep-data", action="store_true", help="keep the cluster's data")


def run_command(args: argparse.Namespace) -> int:
    if args.chaos_command == "list":
        for s in REGISTRY.values():
            flags = " [smoke]" if s.smoke else ""
            needs = f" (needs {', '.join(s.needs)})" if s.needs else ""
            print(f"{s.name:22} {s.summary}{flags}{needs}")
        return 0
    from chaos import runner

    if args.scenario:
        names = [args.scenario]
    elif args.smoke:
        names = [s.name for s in REGISTRY.values() if s.smoke]
    else:
        names = list(REGISTRY)
    out = Path(args.out)
    failed = []
    index = [
        "# Chaos matrix",
        "",
        "| scenario | seed | result | report |",
        "| --- | --- | --- | --- |",
    ]
    for name in names:
        began = time.monotonic()
        print(f"chaos: {name} seed {args.seed} …", flush=True)
        result, path = runner.run(name, args.seed, out, args.seconds, args.convergence_seconds)
        if not args.keep_data:
            shutil.rmtree(path.parent / "work", ignore_errors=True)
        verdict = result.verdict
        print(f"chaos: {name}: {verdict} in {time.monotonic() - began:.0f} s — {path}", flush=True)
        index.append(f"| {name} | {args.seed} | {verdict} | {path.relative_to(out)} |")
        if not result.passed:
            failed.append(name)
    if len(names) > 1:
        (out / "index.md").write_text("\n".join(index) + "\n")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tessera chaos", description=__doc__)
    add_arguments(parser)
    sys.exit(run_command(parser.parse_args(argv)))
