"""Running a probe in a new interpreter with the repository importable: for
settings a process takes once, at start (glibc's malloc environment, a
gc.freeze), which the test process itself must not change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_probe(code: str, env: dict[str, str], drop: tuple[str, ...] = ()) -> str:
    """What `code` prints (stripped), run with this process's environment
    less every variable starting with one of `drop`, plus `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    environment.update(env)
    environment["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
