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
    chosen = []
    for version in versions[:count]:
        path = rng.choice(by_version[version])
        size = path.stat().st_size
        if size == 0:
            continue
        offsets = tuple(sorted(rng.randrange(size) for _ in range(flips_per_file)))
        chosen.append(Flip(path, offsets))
    return chosen


def apply(flips: list[Flip]) -> None:
    for flip in flips:
        with open(flip.path, "r+b") as f:
            for offset in flip.offsets:
                f.seek(offset)
                byte = f.read(1)
                f.seek(offset)
                f.write(bytes([byte[0] ^ 0xFF]))
