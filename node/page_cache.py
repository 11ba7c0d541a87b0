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

open_cached(path, flags) opens a file only if every component of its path is
in the kernel's lookup cache (openat2 with RESOLVE_CACHED, Linux 5.12+), so
the open cannot read a folder block or an inode from disk either; NotCached
otherwise, or where openat2 is not available.

Invariant: pread_cached returns exactly length bytes or raises NotCached; it
never returns bytes the blocking read would not have returned.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

# At most this much is copied on the event loop at once (about 0.1-0.4 ms):
# a whole record of the default 1 MiB chunk (tessera.limits) fits. A longer
# read goes to the executor even when it is cached.
CACHED_READ_MAX_BYTES = 2 * 1024 * 1024

_NOWAIT_FLAG: int | None = getattr(os, "RWF_NOWAIT", None)
_UNSUPPORTED_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


# openat2(2): the same number on every Linux architecture (new syscalls share
# one table since 5.x); RESOLVE_CACHED fails with EAGAIN instead of doing I/O.
_SYS_OPENAT2 = 437
_RESOLVE_CACHED = 0x20
_AT_FDCWD = -100
_OPENAT2_UNSUPPORTED_ERRNOS = frozenset(
    {errno.ENOSYS, errno.EINVAL, errno.E2BIG, errno.EOPNOTSUPP, errno.EPERM}
)


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_syscall = ctypes.CDLL(None, use_errno=True).syscall if sys.platform == "linux" else None
if _syscall is not None:
    _syscall.restype = ctypes.c_long


class NotCached(Exception):
    """The bytes are not all in the page cache: read them in the executor."""


def open_cached(path: str | os.PathLike[str], flags: int) -> int:
    """os.open(path, flags) done without any I/O: every path component must
    be in the kernel's lookup cache. FileNotFoundError when the cache knows
    the file is absent; NotCached when the kernel would have to look on disk,
    or cannot tell (no openat2)."""
    if _syscall is None:
        raise NotCached("openat2 is Linux only")
    how = _OpenHow(flags, 0, _RESOLVE_CACHED)
    fd = _syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_long(_AT_FDCWD),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd >= 0:
        return int(fd)
    err = ctypes.get_errno()
    if err == errno.EAGAIN:
        raise NotCached(f"{path}: not all in the lookup cache")
    if err in _OPENAT2_UNSUPPORTED_ERRNOS:
        raise NotCached(f"openat2 RESOLVE_CACHED unavailable: {os.strerror(err)}")
    if err == errno.ENOENT:
        raise FileNotFoundError(err, os.strerror(err), str(path))
    raise OSError(err, os.strerror(err), str(path))


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
