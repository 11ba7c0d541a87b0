"""Reads that never wait for the disk: preadv2 with RWF_NOWAIT.

A node answers a read on its event loop when every byte it needs is already in
the page cache, and in its executor otherwise (node/service.py). The hop to an
executor thread and back costs more CPU than copying a 256 KiB chunk out of
the page cache (docs/benchmarks.md, "Reads from the page cache"), and most
reads of recent objects are cache hits.

pread_cached(fd, length, offset) returns the bytes when the kernel could copy
all of them without starting I/O. Otherwise it raises NotCached and the caller
does the ordinary blocking read in its executor:
- EAGAIN: some page is not in the cache (or a lock would have to be waited on);
- a short read: only part was cached, or the file ends early; the blocking
  read tells the two apart, and reports a truncated file as it always did;
- the kernel or the file system does not support the flag (no os.RWF_NOWAIT,
  EOPNOTSUPP, EINVAL);
- it is longer than CACHED_READ_MAX_BYTES, more than the loop should copy.

Invariant: pread_cached returns exactly length bytes or raises NotCached; it
never returns bytes the blocking read would not have returned.
"""

from __future__ import annotations

import errno
import os

# At most this much is copied on the event loop at once (about 0.1-0.4 ms):
# a whole record of the default 1 MiB chunk (tessera.limits) fits. A longer
# read goes to the executor even when it is cached.
CACHED_READ_MAX_BYTES = 2 * 1024 * 1024

_NOWAIT_FLAG: int | None = getattr(os, "RWF_NOWAIT", None)
_UNSUPPORTED_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


class NotCached(Exception):
    """The bytes are not all in the page cache: read them in the executor."""


def pread_cached(fd: int, length: int, offset: int) -> bytearray:
    """length bytes of fd at offset, copied from the page cache without I/O;
    NotCached when that is not possible."""
    if _NOWAIT_FLAG is None:
        raise NotCached("this platform has no RWF_NOWAIT")
    if length > CACHED_READ_MAX_BYTES:
        raise NotCached(f"{length} bytes are too many to copy on the event loop")
    buffer = bytearray(length)
    if length == 0:
        return buffer
    try:
        got = os.preadv(fd, [buffer], offset, _NOWAIT_FLAG)
    except BlockingIOError:
        raise NotCached("not in the page cache") from None
    except OSError as exc:
        if exc.errno in _UNSUPPORTED_ERRNOS:
            raise NotCached(f"RWF_NOWAIT unsupported here: {exc}") from None
        raise
    if got != length:
        raise NotCached(f"{got} of {length} bytes cached (or the file ends early)")
    return buffer
