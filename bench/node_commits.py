"""`python -m bench.node_commits`: shard commits per second of one ShardStore,
with and without group commit of folder fsyncs, on this machine's disk.

No gRPC, no gateway, no cluster: T threads each write and commit N one-chunk
shards (create, write, fdatasync, rename, folder fsync) into a fresh store in
a temporary folder, which isolates the node's fsync path from the rest of a
PUT (and from most of the machine's CPU noise). Two layouts:

* ``spread``: every shard has its own version id, so shards fan out over the
  store's 1024 folders as PUTs of different objects do;
* ``one-folder``: the i-th commit of every thread is shard <thread> of the
  i-th version, so concurrent commits rename into the same folder: the case
  where they can share folder fsyncs (at most 32 threads).

Modes alternate (group, single, group, single, ...) repeat after repeat, and
the table gives the medians and the per-repeat ratio group/single, plus the
folder fsyncs issued per commit. Timings live here only: not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from node.folder_sync import FolderSyncer, fsync_folder
from node.shard_format import ShardMeta
from node.store import ShardStore
from tessera.checksum import crc32c
from tessera.ids import new_version_id

SHARDS_PER_VERSION = 32
ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # of version ids (tessera/ids.py)


def run_once(
    root: Path, *, coalesce: bool, layout: str, threads: int, per_thread: int, size: int
) -> tuple[float, float]:
    """Returns (commits per second, folder fsyncs per commit)."""
    data = os.urandom(size)
    crc = crc32c(data)
    syncer = FolderSyncer(fsync_folder, coalesce=coalesce)
    store = ShardStore(Path(tempfile.mkdtemp(dir=root)), syncer)
    shared = [new_version_id() for _ in range(per_thread)]
    # Make all 1024 fan-out folders first, so both modes measure steady state.
    for a in ALPHABET:
        for b in ALPHABET:
            (store.shards_dir / (a + b)).mkdir(exist_ok=True)
    store.close()
    store = ShardStore(store.data_dir, syncer)
    barrier = threading.Barrier(threads + 1)

    def meta(vid: str, index: int) -> ShardMeta:
        return ShardMeta(
            bucket="bench",
            key="k",
            version_id=vid,
            shard_index=index,
            data_shards=SHARDS_PER_VERSION,
            parity_shards=0,
            chunk_size_bytes=size,
            object_size_bytes=size * SHARDS_PER_VERSION,
            stripe_count=1,
        )

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            if layout == "one-folder":  # step i of every thread: one version's folder
                m = meta(shared[i], t)
            else:
                m = meta(new_version_id(), 0)
            with store.begin_write(m) as writer:
                writer.append(0, data, crc)
                writer.commit(1)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    fsyncs_before = syncer.fsyncs
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    commits = threads * per_thread
    store.close()
    return commits / elapsed, (syncer.fsyncs - fsyncs_before) / commits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.node_commits", description=__doc__)
    p.add_argument("--threads", default="1,16", help="comma-separated thread counts")
    p.add_argument("--commits", type=int, default=256, help="commits per run")
    p.add_argument("--size", type=int, default=4096, help="chunk bytes per shard")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layouts", default="spread,one-folder")
    p.add_argument("--dir", type=Path, default=None, help="where the stores go (default: /tmp)")
    args = p.parse_args(argv)
    print(
        "| layout | threads | group commits/s | single commits/s | ratio (median) | "
        "per-repeat ratios | folder fsyncs per commit (group / single) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="node-commits-") as scratch:
        root = Path(scratch)
        for layout in args.layouts.split(","):
            for threads in (int(t) for t in args.threads.split(",")):
                per_thread = max(1, args.commits // threads)
                runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
                for _ in range(args.repeats):
                    for coalesce in (True, False):
                        runs[coalesce].append(
                            run_once(
                                root,
                                coalesce=coalesce,
                                layout=layout,
                                threads=threads,
                                per_thread=per_thread,
                                size=args.size,
                            )
                        )
                ratios = [g[0] / s[0] for g, s in zip(runs[True], runs[False], strict=True)]
                print(
                    f"| {layout} | {threads} "
                    f"| {statistics.median(r[0] for r in runs[True]):.0f} "
                    f"| {statistics.median(r[0] for r in runs[False]):.0f} "
                    f"| {statistics.median(ratios):.2f}x "
                    f"| {' '.join(f'{q:.2f}' for q in ratios)} "
                    f"| {statistics.median(r[1] for r in runs[True]):.2f} / "
                    f"{statistics.median(r[1] for r in runs[False]):.2f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
