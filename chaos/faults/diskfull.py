"""Disk full: a node's data directory is a small tmpfs, mounted before the node
starts and unmounted after it stops (so it fills up under the workload)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class SmallDisks:
    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def mount(self, path: Path, size_bytes: int, free_bytes: int = 0) -> None:
        """A tmpfs of size_bytes at path; with free_bytes, a ballast file leaves only
        that much free (the workload's live data alone may never fill it)."""
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tessera-chaos", str(path)],
            check=True,
            capture_output=True,
        )
        self.mounted.append(path)
        if free_bytes:
            with open(path / "chaos-ballast", "wb") as f:
                f.write(b"\0" * max(0, size_bytes - free_bytes))

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
