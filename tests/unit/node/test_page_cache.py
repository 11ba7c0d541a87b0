"""Page-cache-only reads and lookup-cache-only opens (node/page_cache.py)
against the real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from node import page_cache
from node.page_cache import CACHED_READ_MAX_BYTES, NotCached, open_cached, pread_cached
from tests.unit.node.residency import evict


def require_cached_reads(folder: Path) -> None:
    """Skips the test where this kernel or file system cannot open and read
    a just-written file without I/O (no openat2 RESOLVE_CACHED or RWF_NOWAIT):
    there every read goes to the executor, by design."""
    probe = write(folder / "cached-read-probe", b"probe")
    try:
        fd = open_cached(probe, os.O_RDONLY | os.O_CLOEXEC)
    except NotCached:
        pytest.skip("no openat2 RESOLVE_CACHED here")
    try:
        pread_cached(fd, 5, 0)
    except NotCached:
        pytest.skip("no RWF_NOWAIT reads here")
    finally:
        os.close(fd)
        probe.unlink()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_cached_range_comes_back_whole(tmp_path):
    require_cached_reads(tmp_path)
    data = os.urandom(300_000)
    path = write(tmp_path / "f", data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert pread_cached(fd, 100_000, 5) == data[5:100_005]
        assert pread_cached(fd, 0, 0) == b""
    finally:
        os.close(fd)


def test_an_evicted_file_is_not_cached_and_reads_normally_after(tmp_path):
    data = os.urandom(200_000)
    path = write(tmp_path / "f", data)
    evict(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(NotCached):
            pread_cached(fd, len(data), 0)
        assert os.pread(fd, len(data), 0) == data  # the executor's read
        assert pread_cached(fd, len(data), 0) == data  # now it is cached
    finally:
        os.close(fd)


def test_a_read_past_the_end_is_left_to_the_blocking_read(tmp_path):
    path = write(tmp_path / "f", b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(NotCached):
            pread_cached(fd, 1001, 0)  # short: the blocking read reports truncation
        with pytest.raises(NotCached):
            pread_cached(fd, 10, 5000)
    finally:
        os.close(fd)


def test_more_than_the_loop_may_copy_is_left_to_the_executor(tmp_path):
    path = write(tmp_path / "f", b"\0" * (CACHED_READ_MAX_BYTES + 1))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert len(pread_cached(fd, CACHED_READ_MAX_BYTES, 0)) == CACHED_READ_MAX_BYTES
        with pytest.raises(NotCached):
            pread_cached(fd, CACHED_READ_MAX_BYTES + 1, 0)
    finally:
        os.close(fd)


def test_a_cached_path_opens_without_io(tmp_path):
    require_cached_reads(tmp_path)
    path = write(tmp_path / "f", b"hello")
    fd = open_cached(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert os.pread(fd, 5, 0) == b"hello"
    finally:
        os.close(fd)


def test_a_name_the_lookup_cache_does_not_hold_is_left_to_the_executor(tmp_path):
    # Never looked up: openat2 with RESOLVE_CACHED will not go to disk to
    # find out, so the plain open in the executor decides (here: not found).
    with pytest.raises(NotCached):
        open_cached(tmp_path / "never-seen", os.O_RDONLY)
    with pytest.raises(FileNotFoundError):
        os.open(tmp_path / "never-seen", os.O_RDONLY)


def test_without_openat2_every_open_goes_to_the_executor(tmp_path, monkeypatch):
    path = write(tmp_path / "f", b"hello")
    monkeypatch.setattr(page_cache, "_SYS_OPENAT2", 1_000_000)  # ENOSYS, as on an old kernel
    with pytest.raises(NotCached):
        open_cached(path, os.O_RDONLY)
