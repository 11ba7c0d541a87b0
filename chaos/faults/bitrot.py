"""Bit rot: flip bytes in shard files on disk.

The files and offsets are drawn from a seeded generator over the sorted list
of shard files that exist when the step fires; at most one shard of any one
version is hit, so every object stays recoverable (m >= 1) and any lost or
corrupt read is the cluster's fault, not the fault's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Flip:
    path: Path
    offsets: tuple[int, ...]


def shard_files(nodes_dir: Path) -> list[Path]:
    return sorted(p for p in nodes_dir.glob("*/shards/*/*") if p.is_file())


def plan(files: list[Path], pick_seed: int, count: int, flips_per_file: int) -> list[Flip]:
    """Which files and offsets (pure, given the file list and sizes)."""
    rng = random.Random(pick_seed)
    by_version: dict[str, list[Path]] = {}
    for p in files:
        by_version.setdefault(p.name.rsplit(".", 1)[0], []).append(p)
    versions = sorted(by_version)
    rng.shuffle(versions)
    chosen: list[Flip] = []
    for version in versions:
        if len(chosen) == count:
            break
        path = rng.choice(by_version[version])
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # reclaimed since the listing (an overwrite or delete)
        if size == 0:
            continue
        offsets = tuple(sorted(rng.randrange(size) for _ in range(flips_per_file)))
        chosen.append(Flip(path, offsets))
    return chosen


def apply(flips: list[Flip]) -> list[Flip]:
    """Flips the bytes; returns the flips done (a file reclaimed meanwhile is skipped)."""
    done = []
    for flip in flips:
        try:
            with open(flip.path, "r+b") as f:
                for offset in flip.offsets:
                    f.seek(offset)
                    byte = f.read(1)
                    f.seek(offset)
                    f.write(bytes([byte[0] ^ 0xFF]))
        except FileNotFoundError:
            continue
        done.append(flip)
    return done
