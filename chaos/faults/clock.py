"""Clock skew for one process: it is (re)started under libfaketime (Debian's
faketime package) with its wall clock offset; its monotonic clock is left
alone (FAKETIME_DONT_FAKE_MONOTONIC), as a host whose NTP is off would be."""

from __future__ import annotations

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def prefix(offset: str) -> list[str]:
    """A command prefix running the process with its wall clock offset ("+600", "-3600")."""
    return [
        "env",
        f"LD_PRELOAD={LIBFAKETIME}",
        f"FAKETIME={offset}",
        "FAKETIME_DONT_FAKE_MONOTONIC=1",
    ]
