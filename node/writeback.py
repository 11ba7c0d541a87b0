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
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
