"""Fault injectors, one module per kind. Each touches only processes, loopback
ports, cgroups, files and mounts that the harness itself created, and undoes
what it did in a finally (see chaos/runner.py).

`missing(kind)` says why a kind cannot be injected on this machine (None: it
can); the runner reports such a step as skipped, never as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from chaos.faults import clock, partition

APT_PACKAGES = {"iptables": "iptables", "faketime": "faketime"}


def ensure_package(command_or_path: str, package: str) -> bool:
    """Installs a Debian package with apt-get when root and it is missing."""
    if shutil.which(command_or_path) or os.path.exists(command_or_path):
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    subprocess.run(
        ["apt-get", "install", "-y", "-q", package],
        check=False,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return bool(shutil.which(command_or_path) or os.path.exists(command_or_path))


def missing(kind: str) -> str | None:
    if kind == "partition":
        if os.geteuid() != 0:
            return "needs root (iptables)"
        if not ensure_package("iptables", "iptables"):
            return "iptables is not installed and could not be installed"
        return partition.unavailable_reason()
    if kind == "clock_skew":
        if not ensure_package(clock.LIBFAKETIME, "faketime"):
            return f"libfaketime ({clock.LIBFAKETIME}) is not installed and could not be"
        return None
    if kind == "disk_full":
        return None if os.geteuid() == 0 else "needs root (mount tmpfs)"
    return None
