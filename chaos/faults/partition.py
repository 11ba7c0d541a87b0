"""Network partition of one process: it runs in its own cgroup (v2) and
iptables drops every TCP packet it sends on loopback while the cut is active,
so nobody hears it and nothing it sends arrives (its replies included).
Nothing else on the machine is touched: the rule matches only that cgroup,
and every rule and cgroup is removed afterwards (Cgroups.close, Cut.lift).

The same approach as tests/integration/faults.py (Isolation), here for every
process the chaos harness starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path


def cgroup2_root() -> Path | None:
    with open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return Path(parts[1])
    return None


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("iptables") is None:
        return "iptables is not installed"
    if cgroup2_root() is None:
        return "no cgroup v2 hierarchy mounted"
    probe = subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"iptables does not work here: {probe.stderr.decode().strip()[:200]}"
    return None


class Cgroups:
    """One cgroup per process name, created under the cgroup2 root."""

    def __init__(self) -> None:
        root = cgroup2_root()
        assert root is not None
        self.root = root
        self.run = uuid.uuid4().hex[:8]
        self.paths: dict[str, Path] = {}

    def name(self, process: str) -> str:
        return f"tessera-chaos-{self.run}-{process}"

    def prefix(self, process: str) -> list[str]:
        """A command prefix that joins the process's cgroup before it opens a socket."""
        path = self.paths.get(process)
        if path is None:
            path = self.root / self.name(process)
            path.mkdir(exist_ok=True)
            self.paths[process] = path
        return ["sh", "-c", f'echo $$ > {path / "cgroup.procs"} && exec "$@"', "sh"]

    def close(self) -> list[str]:
        """Removes every cgroup (their processes must have exited); returns failures."""
        failed = []
        for path in self.paths.values():
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed.append(f"{path}: {exc}")
        return failed


class Cut:
    """iptables DROP of every loopback TCP packet sent by the given cgroups."""

    def __init__(self, cgroup_names: list[str]) -> None:
        self.rules = [
            ["OUTPUT", "-o", "lo", "-m", "cgroup", "--path", name, "-p", "tcp", "-j", "DROP"]
            for name in cgroup_names
        ]
        self.active: list[list[str]] = []

    def apply(self) -> None:
        for rule in self.rules:
            subprocess.run(["iptables", "-I", *rule], check=True, capture_output=True)
            self.active.append(rule)

    def lift(self) -> None:
        while self.active:
            rule = self.active.pop()
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(["iptables", "-D", *rule], check=True, capture_output=True)
