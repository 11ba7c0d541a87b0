"""Disk full: a node's data directory is a small tmpfs, mounted before the node
starts and unmounted after it stops (so it fills up under the workload)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class SmallDisks:
    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def mount(self, path: Path, size_bytes: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tessera-chaos", str(path)],
            check=True,
            capture_output=True,
        )
        self.mounted.append(path)

    def close(self) -> list[str]:
        failed = []
        while self.mounted:
            path = self.mounted.pop()
            done = subprocess.run(["umount", str(path)], capture_output=True, check=False)
            if done.returncode != 0:
                lazy = subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
                if lazy.returncode != 0:
                    failed.append(f"{path}: {done.stderr.decode().strip()}")
        return failed
