"""glibc malloc tuned for a process that moves big buffers: every role calls
tune_malloc() before it serves.

Why: glibc hands out any allocation of 128 KiB or more with its own mmap()
and gives it back with munmap() when freed, and trims the top of the heap
back to the kernel as soon as 128 KiB there is free. A storage node answering
a ReadChunks call, or a gateway receiving one, allocates and frees several
256 KiB - 1 MiB buffers per call (the chunk read, the protobuf message, its
serialized form, gRPC's slices): each became a fresh mapping whose pages
fault in one by one and are unmapped again. Measured here with a bare
grpc.aio server answering 256 KiB (bench/malloc_tuning.py): 0.9 ms of server
CPU per call with glibc's defaults, 0.35 ms with the thresholds below — the
copies themselves cost little; the page faults were most of it.

With MMAP_THRESHOLD_BYTES the buffers a request uses come from the heap and
are reused; TRIM_THRESHOLD_BYTES lets up to that much free heap stay mapped
(per malloc arena) instead of being returned and faulted in again. The cost
is resident memory: a process keeps up to about that much freed memory per
arena after a burst instead of returning it at once.

An operator's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the
environment wins: glibc reads those at start, and tune_malloc() then leaves
both alone. TESSERA_MALLOC_TUNING=0 turns this off. On a C library other
than glibc (no mallopt) it does nothing.

Invariant: only allocator thresholds change; never what any allocation holds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers (glibc malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Above every buffer one request handles: chunks (1 MiB default), stripes
# (k chunks), ReadChunks answers (4 MiB at most) and gRPC messages (8 MiB).
MMAP_THRESHOLD_BYTES = 8 * 1024 * 1024 + 64 * 1024
TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024

OWN_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
SWITCH_ENV = "TESSERA_MALLOC_TUNING"


def tune_malloc() -> bool:
    """Sets the thresholds above; True when they were set."""
    if os.environ.get(SWITCH_ENV, "1") == "0":
        return False
    if any(name in os.environ for name in OWN_ENV):
        return False  # glibc already took the operator's values
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok
    if not ok:
        log.warning("mallopt refused the thresholds; glibc defaults stay")
    return ok
