"""Starting a shard file's writeback while it is still being written.

A shard's data reaches the page cache chunk by chunk and the disk only when
commit() calls fdatasync: for a shard of several stripes the whole file is
written out at that moment, so a 32 MiB PUT waited for 8 MiB per node to be
written after its last byte had arrived. start_writeback(fd) asks the kernel
(Linux sync_file_range with SYNC_FILE_RANGE_WRITE) to begin writing out what
is dirty in the file now and returns without waiting, so that writing to the
disk overlaps receiving the next chunks and the final fdatasync has little
left to do.

It is a hint: durability is unchanged. commit() still fdatasyncs the file
before the rename, and nothing counts as durable before that. Where the call
does not exist (not Linux, or no C library found) it does nothing; an error
from it is ignored.

drop_cached(fd) is the other write-side hint: once a parity shard is
durable, commit() asks the kernel (posix_fadvise POSIX_FADV_DONTNEED) to
drop its pages from the page cache. Gateways read parity only when a data
shard is missing, corrupt or slow (gateway/read_path.py), so those pages
would only crowd out data that is read, and the next writes reuse them
instead of growing the cache into fresh memory (docs/erasure-coding.md,
"Parity shards leave the page cache"). Data shards stay cached: a GET soon
after a PUT reads them from memory. Also a hint: it runs after the
fdatasync, so every page is clean and nothing is lost; where the call does
not exist it does nothing, and an error from it is ignored.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable

SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h


def _load() -> Callable[[int, int, int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_sync_file_range = _load()


def start_writeback(fd: int) -> bool:
    """Begins writing out the file's dirty pages, without waiting for them
    (a ctypes call: the GIL is released during it). Returns whether the
    kernel accepted the request."""
    if _sync_file_range is None:
        return False
    # offset 0, nbytes 0: from the start to the end of the file
    return _sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0


def drop_cached(fd: int) -> bool:
    """Asks the kernel to drop the file's clean pages from the page cache.
    Returns whether it accepted the request."""
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return False
    try:
        fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # offset 0, len 0: the whole file
    except OSError:
        return False
    return True
