"""`python -m bench.scaling`: how Tessera's cost grows with concurrency, object
size and bucket size, in one command that prints one table.

Three sweeps, each one run of the shared s3bench client against one cluster
(the `tessera up` shape by default: 3 zones x 4 nodes, 5+4, 3 etcd + 3
metadata replicas, every write fsynced), one after the other:

- concurrency: PUT and GET at each concurrency (1, 4, 16, 64 by default) for a
  small and a mid-size object;
- object size: PUT and GET at one concurrency for sizes from 1 KiB to 256 MiB;
- listing: a full ListObjectsV2 walk (pages of 1000) of buckets of 10,000,
  100,000 and 1,000,000 keys; populating them (16-byte objects, 64 writers) is
  reported too, as small-PUT throughput at that concurrency.

Like bench.run, this measures and never asserts: nothing here runs in CI.
Results and how to read them: docs/benchmarks.md ("How cost grows").
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.run import TOOLS_DIR_DEFAULT, Target, format_table, log
from cli.local_cluster import Layout, LocalCluster

READY_TIMEOUT_SECONDS = 180.0
POPULATE_CONCURRENCY = 64


@contextmanager
def cluster(nodes_per_zone: int) -> Iterator[Target]:
    """A LocalCluster on free ports in a temporary folder, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="tessera-scaling-"))
    local = LocalCluster(Layout.with_free_ports(root, nodes_per_zone=nodes_per_zone))
    try:
        local.start()
        local.wait_ready(READY_TIMEOUT_SECONDS)
        c = local.credentials
        log(f"tessera up at {local.endpoint} ({3 * nodes_per_zone} nodes, data {root})")
        yield Target("tessera", local.endpoint, c.access_key, c.secret_key)
    finally:
        local.stop()
        shutil.rmtree(root, ignore_errors=True)


def s3bench(
    args: argparse.Namespace, target: Target, scratch: Path, name: str, extra: list[str]
) -> dict[str, Any]:
    """One s3bench run against the target; returns its result JSON."""
    out = scratch / f"{name}.json"
    cmd = [
        sys.executable,
        str(args.tools_dir / "s3bench" / "s3bench.py"),
        f"--target={target.spec()}",
        "--json",
        str(out),
        "--repeats",
        str(args.repeats),
        "--max-phase-seconds",
        str(args.max_phase_seconds),
        *extra,
    ]
    log("running: " + " ".join(cmd))
    subprocess.run(cmd, stdout=sys.stderr, check=False)
    if not out.exists():
        raise RuntimeError(f"s3bench wrote no result for the {name} sweep")
    result: dict[str, Any] = json.loads(out.read_text())
    if args.keep_json:
        shutil.copy(out, args.keep_json / out.name)
    return result


def cell_rows(sweep: str, result: dict[str, Any]) -> list[list[str]]:
    """PUT and GET of every cell of a sweep (medians over repeats)."""
    cells = result["summary"]["tessera"]["cells"]
    rows = []
    for cell, phases in cells.items():
        size, conc = cell.split(" c")
        for phase in ("put", "get"):
            m = phases[phase]
            flag = " ERR" if m["errors"] or m["verify_fail"] else ""
            rows.append(
                [
                    sweep,
                    phase.upper(),
                    size,
                    conc,
                    f"{m['mib_s']:.1f}{flag}",
                    f"{m['ops_s']:.1f}",
                    f"{m['lat_ms_p50']:.1f}",
                    f"{m['lat_ms_p99']:.1f}",
                ]
            )
    return rows


def list_rows(keys: int, result: dict[str, Any]) -> list[list[str]]:
    """The listing walk (and the populate, when this run did it) of one bucket."""
    listing = result["summary"]["tessera"]["list"]
    setup = result["raw"]["tessera"].get("list_setup") or {}
    rows = []
    populate = setup.get("populate")
    if populate:
        rows.append(
            [
                "listing",
                "populate",
                "16B",
                str(POPULATE_CONCURRENCY),
                "",
                f"{populate['ops_s']:.1f}",
                f"{populate['lat_ms_p50']:.1f}",
                f"{populate['lat_ms_p99']:.1f}",
            ]
        )
    flag = "" if listing["verified"] else " UNVERIFIED"
    rows.append(
        [
            "listing",
            f"LIST {keys:,}",
            "",
            "1",
            f"{listing['seconds']:.2f} s{flag}",
            f"{listing['keys_s']:.0f} keys/s",
            f"{1000 * listing['seconds'] / max(1, keys / 1000):.1f} ms/page",
            "",
        ]
    )
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.scaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--nodes-per-zone", type=int, default=4, help="4: the `tessera up` shape")
    p.add_argument("--concurrency", default="1,4,16,64")
    p.add_argument("--concurrency-sizes", default="4KiB,1MiB")
    p.add_argument("--sizes", default="1KiB,64KiB,1MiB,16MiB,256MiB")
    p.add_argument("--sizes-concurrency", default="4")
    p.add_argument("--list-keys", default="10000,100000,1000000")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--max-phase-seconds", type=float, default=20.0)
    p.add_argument("--skip", default="", help="comma-separated sweeps to skip: conc,size,list")
    p.add_argument("--keep-json", type=Path, help="copy each sweep's s3bench JSON here")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--tools-dir", type=Path, default=TOOLS_DIR_DEFAULT)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.tools_dir = args.tools_dir.resolve()
    skip = set(args.skip.split(",")) - {""}
    rows = [["sweep", "op", "size", "conc", "MiB/s", "ops/s", "p50 ms", "p99 ms"]]
    with tempfile.TemporaryDirectory() as scratch, cluster(args.nodes_per_zone) as target:
        folder = Path(scratch)
        if "conc" not in skip:
            result = s3bench(
                args,
                target,
                folder,
                "concurrency",
                [
                    f"--sizes={args.concurrency_sizes}",
                    f"--concurrency={args.concurrency}",
                    "--list-keys=0",
                ],
            )
            rows += cell_rows("concurrency", result)
        if "size" not in skip:
            result = s3bench(
                args,
                target,
                folder,
                "size",
                [
                    f"--sizes={args.sizes}",
                    f"--concurrency={args.sizes_concurrency}",
                    "--list-keys=0",
                ],
            )
            rows += cell_rows("size", result)
        if "list" not in skip:
            for keys in (int(k) for k in args.list_keys.split(",") if k):
                result = s3bench(
                    args,
                    target,
                    folder,
                    f"list-{keys}",
                    [
                        "--sizes=1KiB",
                        "--concurrency=1",
                        "--ops=1",
                        f"--list-keys={keys}",
                        "--list-repeats=3",
                        f"--list-populate-concurrency={POPULATE_CONCURRENCY}",
                    ],
                )
                rows += list_rows(keys, result)
    print(format_table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
