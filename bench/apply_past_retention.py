"""How fast one metadata StateMachine applies mutations before and after the
idempotency records reach their retention (docs/metadata.md, "Pruning the
records").

Applies batches of inline PutObject mutations to a fresh StateMachine in a
temporary RocksDB with a small retention and prints mutations/s per block.
Pruning that walked over its own tombstones made the rate collapse once the
retention was reached; it should stay flat. A measurement, never a test.

    .venv/bin/python -m bench.apply_past_retention [--mutations 120000] [--retention 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from metadata.mutations import CreateBucket, LogEntry, PutObject
from metadata.state import StateMachine, open_db
from tessera.model import ObjectVersion

BATCH_MUTATIONS = 4
BODY = b"x" * 16


def inline_put(n: int) -> PutObject:
    """PutObject of a 16-byte inline object at key k<n>, version id <n>."""
    version = ObjectVersion(
        bucket="b",
        key=f"k{n:08d}",
        version_id=f"{n:026d}",
        size_bytes=len(BODY),
        etag="e",
        content_type="",
        last_modified=1.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=1 << 20,
        placement=(),
        inline_data=BODY,
    )
    return PutObject(f"r{n}", version)


@contextmanager
def scratch_state(**options: Any) -> Iterator[StateMachine]:
    """A StateMachine (options: its keyword arguments) on a temporary RocksDB,
    with bucket "b" created at position 1; removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        db = open_db(scratch)
        try:
            state = StateMachine(db, **options)
            state.commit(state.apply_batch([LogEntry(1, CreateBucket("cb", "b", "o", 1.0))]))
            yield state
        finally:
            db.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.apply_past_retention", description=__doc__)
    p.add_argument("--mutations", type=int, default=120_000)
    p.add_argument("--retention", type=int, default=20_000, help="positions")
    p.add_argument("--block", type=int, default=20_000, help="mutations per printed line")
    args = p.parse_args(argv)
    with scratch_state(request_retention_positions=args.retention) as state:
        position = 1
        print(f"{'mutations':>10}  {'mutations/s in the block':>24}")
        started = time.perf_counter()
        for first in range(0, args.mutations, BATCH_MUTATIONS):
            entries = []
            for n in range(first, first + BATCH_MUTATIONS):
                position += 1
                entries.append(LogEntry(position, inline_put(n)))
            state.commit(state.apply_batch(entries), sync=False)
            done = first + BATCH_MUTATIONS
            if done % args.block == 0:
                now = time.perf_counter()
                print(f"{done:>10}  {args.block / (now - started):>24.0f}", flush=True)
                started = now
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
