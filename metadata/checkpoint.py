"""RocksDB checkpoints: how a new or wiped replica gets a peer's state.

The serving side takes a checkpoint of its open database (hard links to the
immutable SST files plus copies of the small live files: a consistent
snapshot that includes the applied position, since every batch is written
atomically with it) into a scratch folder, and streams its files in chunks of
CHUNK_BYTES; the scratch folder is removed afterwards.

The receiving side writes the files into ``<data dir>.incoming``, fsyncs every
file and the folder, and only then swaps it in for the data directory (a
rename, then a fsync of the parent). The replica then follows the log from
the checkpoint's applied revision on.

Invariant: the data directory is either the old state or a complete
checkpoint, never a partial one; a file name from a peer never escapes the
incoming folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from rocksdict import Checkpoint, Rdict

CHUNK_BYTES = 1024 * 1024

Chunk = tuple[str, bytes, bool]  # (file name, data, last chunk of that file)


def _create(db: Rdict, into: Path) -> list[Path]:
    into.parent.mkdir(parents=True, exist_ok=True)
    Checkpoint(db).create_checkpoint(str(into))
    return sorted(p for p in into.iterdir() if p.is_file())


async def stream(db: Rdict, scratch_root: Path) -> AsyncIterator[Chunk]:
    """Yields a fresh checkpoint of db, file by file (blocking work off the loop)."""
    into = scratch_root / f"checkpoint-{uuid.uuid4().hex}"
    try:
        files = await asyncio.to_thread(_create, db, into)
        for path in files:
            f = await asyncio.to_thread(path.open, "rb")
            try:  # one chunk read ahead, to flag the last one
                data = await asyncio.to_thread(f.read, CHUNK_BYTES)
                while True:
                    following = await asyncio.to_thread(f.read, CHUNK_BYTES) if data else b""
                    yield path.name, data, not following
                    if not following:
                        break
                    data = following
            finally:
                f.close()
    finally:
        await asyncio.to_thread(shutil.rmtree, into, True)


def _safe_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"bad checkpoint file name {name!r}")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Writer:
    """Writes the incoming files (blocking: call from a thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[str, int] = {}

    def write(self, name: str, data: bytes, last: bool) -> None:
        name = _safe_name(name)
        fd = self._open.get(name)
        if fd is None:
            fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self._open[name] = fd
        os.write(fd, data)
        if last:
            os.fsync(fd)
            os.close(fd)
            del self._open[name]

    def finish(self) -> None:
        if self._open:
            raise ValueError(f"checkpoint ended inside {sorted(self._open)}")
        _fsync_dir(self.folder)

    def abort(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


async def install(chunks: AsyncIterator[Chunk], data_dir: Path) -> None:
    """Receives a checkpoint and makes it the data directory (atomically)."""
    incoming = data_dir.with_name(data_dir.name + ".incoming")
    await asyncio.to_thread(shutil.rmtree, incoming, True)
    incoming.mkdir(parents=True)
    writer = _Writer(incoming)
    try:
        async for name, data, last in chunks:
            await asyncio.to_thread(writer.write, name, data, last)
        await asyncio.to_thread(writer.finish)
    except BaseException:
        writer.abort()
        await asyncio.to_thread(shutil.rmtree, incoming, True)
        raise
    await asyncio.to_thread(_swap_in, incoming, data_dir)


def _swap_in(incoming: Path, data_dir: Path) -> None:
    old = data_dir.with_name(data_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if data_dir.exists():
        data_dir.rename(old)
    incoming.rename(data_dir)
    _fsync_dir(data_dir.parent)
    shutil.rmtree(old, ignore_errors=True)
