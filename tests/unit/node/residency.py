"""How much of a file the page cache holds, asked of the kernel (mincore),
and dropping a file from it, for the node tests that check what the store
and the reads leave cached."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import time
from pathlib import Path

import pytest

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

EVICT_ROUNDS = 20
EVICT_SETTLE_SECONDS = 0.1  # out for this long after a drop: no read-ahead was in flight


def resident_pages(path: Path) -> int:
    """How many of a file's pages are in the page cache (mincore(2))."""
    size = path.stat().st_size
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vector = (ctypes.c_ubyte * pages)()
        address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        if _LIBC.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vector) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        return sum(v & 1 for v in vector)


def evict(path: Path) -> None:
    """Drops a file's pages from the page cache (synced first, so they are
    clean) and waits until they stay out — a read-ahead still in flight (the
    node's or the kernel's) may bring them back just after; skips the test
    where the file system keeps them (tmpfs). Checked with mincore, not with
    a read: a RWF_NOWAIT miss starts readahead."""
    for _ in range(EVICT_ROUNDS):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        if not resident_pages(path):
            time.sleep(EVICT_SETTLE_SECONDS)
            if not resident_pages(path):
                return
        time.sleep(EVICT_SETTLE_SECONDS)
    pytest.skip("this file system keeps the file in memory; it cannot be evicted")
