"""`python -m bench.profile`: where a LocalCluster's processes spend their CPU
during a PUT/GET load, sampled with py-spy (the `bench` extra).

It starts a LocalCluster (default shape, free ports, a temporary data dir),
attaches `py-spy record --format raw` to the gateway, one storage node and
every metadata replica, drives the shared s3bench client over one object size
and concurrency, and prints per process the share of samples in each request
path (PUT, GET, DELETE, background) and the functions with the most samples
of their own. The collapsed stacks are kept for flame graphs (--out).

py-spy samples the Python stacks of running threads (idle time is not
counted), so the shares are of CPU in that process; on a loaded machine they
are the meaningful part, the absolute sample counts are not.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import TOOLS_DIR_DEFAULT
from cli.local_cluster import Layout, LocalCluster

READY_TIMEOUT_SECONDS = 120.0
SAMPLE_RATE_HZ = 200
# A stack belongs to the first request path whose marker it contains (the
# gateway's handlers, the node's servicer methods, metadata's RPC names).
PATHS = (
    # Executor threads have no request frame: the node's ShardWriter/ShardReader
    # (fsync, file I/O) name their path themselves.
    (
        "PUT",
        ("write_object", "store_shard_set", "store_inline", "PutShard", "PutObject", "ShardWriter"),
    ),
    ("GET", ("serve_version", "read_range", "GetShard", "GetObject", "GetBucket", "ShardReader")),
    ("DELETE", ("DeleteObject", "DeleteShard", "reclaim")),
    ("LIST", ("ListObjects",)),
    ("commit/apply", ("commit", "apply", "shared_log", "follower")),
)


def classify(stack: str) -> str:
    for name, markers in PATHS:
        if any(m in stack for m in markers):
            return name
    if "http_parser" in stack or "web_protocol" in stack or "_handle_request" in stack:
        return "http (unclassified)"
    if "grpc" in stack:
        return "grpc (unclassified)"
    return "other"


def summarize(raw_path: Path, top: int) -> str:
    """Collapsed stacks ("frame;frame;... count" per line) → shares per path
    and the top self-time frames."""
    by_path: collections.Counter[str] = collections.Counter()
    by_self: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        by_path[classify(stack)] += count
        by_self[stack.rsplit(";", 1)[-1]] += count
    if not total:
        return "  (no samples)"
    lines = [f"  samples: {total}"]
    lines += [f"  {name:22s} {100 * n / total:5.1f}%" for name, n in by_path.most_common()]
    lines.append("  top self frames:")
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in by_self.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--sizes", default="4KiB")
    p.add_argument("--concurrency", default="16")
    p.add_argument("--ops", type=int, default=600, help="objects per cell")
    p.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    p.add_argument("--top", type=int, default=15)
    p.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL (Python CPU)"
    )
    p.add_argument("--tools-dir", type=Path, default=TOOLS_DIR_DEFAULT)
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE for every process")
    args = p.parse_args(argv)
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is not installed (pip install '.[bench]')", file=sys.stderr)
        return 2
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    root = Path(tempfile.mkdtemp(prefix="tessera-profile-"))
    out = args.out or root / "stacks"
    out.mkdir(parents=True, exist_ok=True)
    layout = Layout.with_free_ports(root / "cluster")
    layout.extra_env.update(dict(e.split("=", 1) for e in args.env))
    cluster = LocalCluster(layout)
    spies: dict[str, subprocess.Popen[bytes]] = {}
    try:
        cluster.start()
        cluster.wait_ready(READY_TIMEOUT_SECONDS)
        watched = ["gateway", layout.node_names()[0][0], *layout.metadata_names()]
        for name in watched:
            pid = cluster.processes[name].pid
            spies[name] = subprocess.Popen(
                [
                    *(py_spy, "record", "--nonblocking", "--format", "raw"),
                    *("-r", str(SAMPLE_RATE_HZ), "-o", str(out / f"{name}.txt")),
                    *(["--gil"] if args.gil else []),
                    *("--pid", str(pid)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        time.sleep(1.0)
        c = cluster.credentials
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                str(args.tools_dir / "s3bench" / "s3bench.py"),
                f"--target=tessera={cluster.endpoint},{c.access_key},{c.secret_key}",
                *("--sizes", args.sizes, "--concurrency", args.concurrency),
                *("--ops", str(args.ops), "--repeats", "1", "--list-keys", "0", "--quiet"),
            ],
            stdout=sys.stderr,
            check=False,
        )
        print(f"load ran {time.monotonic() - started:.1f} s", file=sys.stderr)
    finally:
        for spy in spies.values():
            spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        for spy in spies.values():
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        cluster.stop()
    for name in spies:
        print(f"{name}:")
        print(summarize(out / f"{name}.txt", args.top))
    print(f"collapsed stacks: {out}")
    if args.out is None:
        print(f"(cluster data in {root})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
