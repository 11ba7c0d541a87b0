"""What one repair scan's walk of the stored versions costs (docs/repair.md,
"What a scan costs").

Fills a fresh StateMachine in a temporary RocksDB with inline (16-byte)
objects and sharded ones, then walks `versions_page` from start to end, as
the repair scan and node removal do, and prints the CPU seconds the walk took
and the versions it returned. A measurement, never a test.

    .venv/bin/python -m bench.repair_scan [--inline 50000] [--sharded 5000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from bench.apply_past_retention import inline_put, scratch_state
from metadata.mutations import LogEntry, PutObject
from metadata.state import StateMachine
from tessera.model import ShardLocation

BATCH_MUTATIONS = 500
PAGE_RECORDS = 1000  # metadata/repair.py SCAN_PAGE_VERSIONS
SHARDED_SIZE_BYTES = 4 << 20


def _put(n: int, inline: bool) -> PutObject:
    put = inline_put(n)
    if inline:
        return put
    placement = tuple(ShardLocation(i, f"n{i}") for i in range(6))
    version = replace(
        put.version, size_bytes=SHARDED_SIZE_BYTES, placement=placement, inline_data=b""
    )
    return replace(put, version=version)


def _fill(state: StateMachine, inline: int, sharded: int) -> None:
    """inline + sharded versions, the sharded ones spread evenly among them."""
    total = inline + sharded
    every = total // sharded if sharded else total + 1
    position = 1  # the bucket's (scratch_state)
    for first in range(0, total, BATCH_MUTATIONS):
        entries = []
        for n in range(first, min(total, first + BATCH_MUTATIONS)):
            position += 1
            is_inline = n % every != 0 or n // every >= sharded
            entries.append(LogEntry(position, _put(n, is_inline)))
        state.commit(state.apply_batch(entries), sync=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.repair_scan", description=__doc__)
    p.add_argument("--inline", type=int, default=50_000, help="inline versions")
    p.add_argument("--sharded", type=int, default=5_000, help="versions in shard sets")
    args = p.parse_args(argv)
    with scratch_state() as state:
        _fill(state, args.inline, args.sharded)
        started = time.process_time()
        after, found, pages = b"", 0, 0
        while True:
            versions, after = state.versions_page(after, PAGE_RECORDS)
            found += len(versions)
            pages += 1
            if not after:
                break
        cpu_seconds = time.process_time() - started
    header = f"{'records':>9}  {'versions returned':>17}  {'pages':>5}  {'walk CPU s':>10}"
    print(f"{header}  {'us/record':>9}")
    records = args.inline + args.sharded
    print(
        f"{records:>9}  {found:>17}  {pages:>5}  {cpu_seconds:>10.2f}"
        f"  {1e6 * cpu_seconds / records:>9.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
