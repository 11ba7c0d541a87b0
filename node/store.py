"""ShardStore: the shard files of one node's data folder.

Layout under data_dir::

    LOCK                               flock'ed while a store has the folder open
    tmp/<version_id>.<i>.<rand>.tmp    shards being written (removed at startup)
    shards/<version_id[-2:]>/<version_id>.<i>   durable shards (node/shard_format.py)

Shards fan out by the *last* two characters of the version id: its first
characters are a millisecond timestamp (tessera/ids.py) and would put years of
shards in one folder, its last ones are random.

Invariants:
- a shard file exists under shards/ only once it is complete: it is written in
  tmp/ (header, chunk records, then the trailer block), fdatasynced, renamed
  into place, and an fsync of its folder that started after the rename
  (node/folder_sync.py: concurrent commits share one) has returned before
  commit() returns; a writer that is aborted or fails leaves nothing behind;
- a fan-out folder's own entry in shards/ is durable before any commit into
  it returns: shards/ is fsynced at open (covering folders made by an earlier
  process) and after each mkdir, before the folder counts as durable;
- a committed parity shard (index >= data_shards) is dropped from the page
  cache once it is durable (node/writeback.py: a hint, after the fdatasync),
  and again after verify() read it (the scrubber); data shards stay cached;
- deletes and quarantine moves are durable (their folders fsynced) before
  they return; a deleted shard's file is unlinked, or renamed into spares/
  (node/spares.py) and kept there only if no reader has it open (readers
  count themselves before opening), so a file being read is never
  overwritten; a shard written over a spare is truncated at its end and
  fsynced (not fdatasynced: its mtime must not come back older than the
  write), then installed as any other;
- every chunk is checked against its CRC32C before it is written and before
  it is returned, and the trailer before it is returned; corrupt bytes raise
  ChunkCorrupt (ShardCorrupt for a header or trailer) and are never
  returned, and the file is left in place (repair and forensics need it);
- file names come only from validated version ids and shard indexes, so no
  request can name a path outside the data folder;
- used_bytes and shard_count equal the sizes and number of files under
  shards/ (scanned at open, kept up to date under a lock).

All methods do blocking file I/O: async callers run them in a bounded
executor, except reads with cached_only=True, which never wait for the disk
(they raise NotCached instead) and may run on the event loop. ShardWriter
and ShardReader serialise their own calls, so closing one while a call is
still running in another thread is safe.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from node import metrics
from node.errors import (
    ChecksumMismatch,
    ChunkCorrupt,
    InvalidShard,
    RangeNotSatisfiable,
    ShardCorrupt,
    ShardNotFound,
)
from node.folder_sync import FolderSyncer, fsync_folder
from node.page_cache import open_cached, pread_cached
from node.shard_format import (
    PREFIX,
    RECORD,
    TRAILER,
    FormatError,
    ShardMeta,
    check_trailer,
    decode_header,
    decode_prefix,
    decode_trailer_prefix,
    encode_header,
    encode_trailer,
    expected_file_size_bytes,
    record_offset_bytes,
    trailer_offset_bytes,
    validate,
    validate_shard_id,
)
from node.spares import SparePool
from node.writeback import drop_cached, start_writeback
from tessera import limits
from tessera.checksum import crc32c
from tessera.ids import is_version_id

log = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview


class StoreLocked(Exception):
    """Another store (another node process) has this data folder open."""


class ShardStore:
    """The durable shards in one data folder. Opening it scans the folder.
    folder_syncer makes renames and unlinks durable (one per store; a fresh
    coalescing one by default)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        folder_syncer: FolderSyncer | None = None,
        spare_bytes_max: int = limits.SPARE_FILES_DEFAULT_BYTES,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._syncer = folder_syncer or FolderSyncer()
        self.shards_dir = self.data_dir / "shards"
        self._shards_folder = str(self.shards_dir)
        self.tmp_dir = self.data_dir / "tmp"
        self.quarantine_dir = self.data_dir / "quarantine"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_folder(self.data_dir / "LOCK")
        self._lock = threading.Lock()  # guards renames, unlinks and the counters
        self._used_bytes = 0
        self._shard_count = 0
        self._durable_folders: set[str] = set()  # fan-out folders whose entry is fsynced
        self._open_readers: dict[str, int] = {}  # shard file -> readers holding it open
        self._readers_lock = threading.Lock()  # guards _open_readers only, never held over I/O
        try:
            self.shards_dir.mkdir(exist_ok=True)
            self.tmp_dir.mkdir(exist_ok=True)
            self.quarantine_dir.mkdir(exist_ok=True)
            self._spares = SparePool(self.data_dir / "spares", spare_bytes_max)
            self._remove_temp_files()
            self._scan()
            # A folder made by an earlier process may not be durable yet (it
            # may have stopped between mkdir and fsync): make them all so now.
            fsync_folder(self.data_dir)
            fsync_folder(self.shards_dir)
        except BaseException:
            os.close(self._lock_fd)
            raise

    def close(self) -> None:
        """Releases the folder lock (open readers and writers stay usable)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    @property
    def used_bytes(self) -> int:
        """Bytes of all durable shard files, headers included."""
        return self._used_bytes

    @property
    def shard_count(self) -> int:
        return self._shard_count

    def shard_path(self, version_id: str, shard_index: int) -> Path:
        """Where a shard lives; raises InvalidShard for an unsafe id or index."""
        validate_shard_id(version_id, shard_index)
        return self.shards_dir / version_id[-2:] / f"{version_id}.{shard_index}"

    def _shard_file(self, version_id: str, shard_index: int) -> str:
        """shard_path as a string: the read path opens a shard per request,
        and building Path objects was a tenth of a node's loop time."""
        validate_shard_id(version_id, shard_index)
        return f"{self._shards_folder}/{version_id[-2:]}/{version_id}.{shard_index}"

    def begin_write(self, meta: ShardMeta) -> ShardWriter:
        """Starts writing a shard in tmp/; nothing is visible until commit()."""
        validate(meta)
        final_path = self.shard_path(meta.version_id, meta.shard_index)
        tmp_path = self.tmp_dir / f"{meta.version_id}.{meta.shard_index}.{secrets.token_hex(4)}.tmp"
        recycled = self._spares.take(tmp_path, expected_file_size_bytes(meta))
        flags = os.O_WRONLY | os.O_CLOEXEC
        try:
            fd = os.open(tmp_path, flags if recycled else flags | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            if _out_of_space(exc):
                self.release_spares()
            raise
        writer = ShardWriter(self, meta, fd, tmp_path, final_path, recycled)
        try:
            _write_all(fd, [encode_header(meta)])
        except BaseException as exc:
            writer._discard(exc)
            raise
        return writer

    def open_reader(
        self, version_id: str, shard_index: int, cached_only: bool = False
    ) -> ShardReader:
        """Opens a shard and checks its header; raises ShardNotFound or
        ShardCorrupt. cached_only: NotCached unless its path is in the lookup
        cache and its header in the page cache (node/page_cache.py)."""
        path = self._shard_file(version_id, shard_index)
        self._reading(path, +1)  # before the open: a delete meanwhile unlinks, never recycles
        try:
            if cached_only:
                fd = open_cached(path, os.O_RDONLY | os.O_CLOEXEC)
            else:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._reading(path, -1)
            raise ShardNotFound(f"no shard {version_id}.{shard_index}") from None
        except BaseException:
            self._reading(path, -1)
            raise
        try:
            prefix = _pread(fd, PREFIX.size, 0, cached_only)
            format_version, header_length, header_crc = decode_prefix(prefix)
            meta = decode_header(_pread(fd, header_length, PREFIX.size, cached_only), header_crc)
            if (meta.version_id, meta.shard_index) != (version_id, shard_index):
                raise FormatError(f"header names {meta.version_id}.{meta.shard_index}")
        except FormatError as exc:
            os.close(fd)
            self._reading(path, -1)
            metrics.CHECKSUM_FAILURES.labels(stage="read").inc()
            raise ShardCorrupt(str(exc), path) from exc
        except BaseException:
            os.close(fd)
            self._reading(path, -1)
            raise
        return ShardReader(
            path, fd, meta, header_length, format_version, lambda: self._reading(path, -1)
        )

    def _reading(self, path: str, change: int) -> None:
        with self._readers_lock:
            held = self._open_readers.get(path, 0) + change
            if held:
                self._open_readers[path] = held
            else:
                del self._open_readers[path]

    def _is_read(self, path: str) -> bool:
        with self._readers_lock:
            return path in self._open_readers

    def read_meta(self, version_id: str, shard_index: int) -> ShardMeta:
        """A shard's verified header."""
        with self.open_reader(version_id, shard_index) as reader:
            return reader.meta

    def read_trailer(self, version_id: str, shard_index: int) -> tuple[ShardMeta, bytes]:
        """A shard's verified header and trailer (b"" when it has none)."""
        with self.open_reader(version_id, shard_index) as reader:
            return reader.meta, reader.read_trailer()

    def read_stripes(
        self, version_id: str, shard_index: int, stripe_start: int = 0, stripe_count: int = 0
    ) -> Iterator[memoryview]:
        """Yields the verified chunks of a stripe range (count 0: to the end)."""
        with self.open_reader(version_id, shard_index) as reader:
            for stripe_index in reader.stripe_range(stripe_start, stripe_count):
                yield reader.read_chunk(stripe_index)[0]

    def delete(self, version_id: str, shard_index: int, modified_before: float = 0.0) -> bool:
        """Removes a shard; returns whether it existed (and was removed).
        modified_before > 0 (GC): only if the file was last modified before
        then, so a shard rewritten since GC listed it is kept."""
        path = self.shard_path(version_id, shard_index)
        if not self._unlink(path, modified_before):
            return False
        self._syncer.sync(path.parent)
        return True

    def delete_many(self, shards: Sequence[tuple[str, int, float]]) -> list[bool]:
        """Removes shards (version id, index, modified_before) as delete()
        does, but fsyncs each folder once, after all of its unlinks; returns,
        in order, whether each existed. Every id is checked (InvalidShard)
        before anything is removed."""
        paths = [self.shard_path(version_id, index) for version_id, index, _ in shards]
        existed = [
            self._unlink(path, modified_before)
            for path, (_, _, modified_before) in zip(paths, shards, strict=True)
        ]
        for folder in dict.fromkeys(
            p.parent for p, gone in zip(paths, existed, strict=True) if gone
        ):
            self._syncer.sync(folder)
        return existed

    def _unlink(self, path: Path, modified_before: float) -> bool:
        """Unlinks one shard file (not yet durable); whether it existed."""
        with self._lock:
            try:
                info = path.stat()
                if modified_before and info.st_mtime >= modified_before:
                    return False
                size = info.st_size
                name = str(path)
                spare = self._spares.stash(name, size)
                if spare is None:
                    path.unlink()
                elif self._is_read(name):
                    # A reader counts itself before it opens the path, so one
                    # not counted now finds the path gone; one counted may hold
                    # this very file open, and must never see it written over.
                    self._spares.discard(spare)
                else:
                    self._spares.admit(spare, size)
            except FileNotFoundError:
                return False
            self._used_bytes -= size
            self._shard_count -= 1
        return True

    def quarantine(self, version_id: str, shard_index: int) -> Path | None:
        """Moves a corrupt shard aside (never deletes it): it is no longer
        served, and stays for inspection. Returns where it went, or None if
        it was already gone."""
        path = self.shard_path(version_id, shard_index)
        target = self.quarantine_dir / f"{path.name}.{int(time.time())}"
        with self._lock:
            try:
                size = path.stat().st_size
                os.rename(path, target)
            except FileNotFoundError:
                return None
            self._used_bytes -= size
            self._shard_count -= 1
        self._syncer.sync(path.parent)
        self._syncer.sync(self.quarantine_dir)
        metrics.SHARDS_QUARANTINED.inc()
        log.error("quarantined corrupt shard %s as %s", path, target)
        return target

    def shard_ids(self) -> Iterator[tuple[str, int]]:
        """(version id, shard index) of every durable shard, folder by folder
        (a snapshot per folder: shards written meanwhile may be missed)."""
        for folder in sorted(os.scandir(self.shards_dir), key=lambda e: e.name):
            if not folder.is_dir(follow_symlinks=False):
                continue
            for name in sorted(os.listdir(folder.path)):
                if _is_shard_name(name):
                    version_id, _, index = name.partition(".")
                    yield version_id, int(index)

    def modified_at(self, version_id: str, shard_index: int) -> float:
        """The shard file's mtime (unix seconds); raises ShardNotFound."""
        try:
            return self.shard_path(version_id, shard_index).stat().st_mtime
        except FileNotFoundError:
            raise ShardNotFound(f"no shard {version_id}.{shard_index}") from None

    def verify(self, version_id: str, shard_index: int) -> int:
        """Reads a whole shard and checks every checksum; returns the bytes
        read. Raises ShardCorrupt (or ShardNotFound if it was removed)."""
        read = 0
        with self.open_reader(version_id, shard_index) as reader:
            for stripe_index in reader.stripe_range(0, 0):
                data, _ = reader.read_chunk(stripe_index)
                read += len(data)
            read += len(reader.read_trailer())
            if reader.meta.is_parity:
                reader.drop_cached()  # as after its commit: parity stays out of the cache
        return read

    def _install(self, tmp_path: Path, final_path: Path) -> int:
        """Renames a complete, fdatasynced temp file into place and makes the
        rename durable. Returns the file's size."""
        size = os.stat(tmp_path).st_size
        folder = final_path.parent
        with self._lock:
            new_folder = folder.name not in self._durable_folders
            if new_folder:
                folder.mkdir(exist_ok=True)
            try:
                replaced: int | None = final_path.stat().st_size
            except FileNotFoundError:
                replaced = None
            os.rename(tmp_path, final_path)
            if replaced is None:
                self._shard_count += 1
                self._used_bytes += size
            else:  # a retried write of the same shard: same content, newest wins
                self._used_bytes += size - replaced
        if new_folder:
            # Every commit that found the folder not yet durable syncs shards/
            # (concurrent ones share the fsync); only then does it count as durable.
            self._syncer.sync(self.shards_dir)
            with self._lock:
                self._durable_folders.add(folder.name)
        self._syncer.sync(folder)
        return size

    def release_spares(self) -> int:
        """Unlinks every kept spare file (a write ran out of space)."""
        return self._spares.release()

    def _remove_temp_files(self) -> None:
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        if removed:
            log.info("removed %d unfinished shard writes from %s", removed, self.tmp_dir)

    def _scan(self) -> None:
        used = count = 0
        for folder in os.scandir(self.shards_dir):
            if not folder.is_dir(follow_symlinks=False):
                continue
            self._durable_folders.add(folder.name)  # shards/ is fsynced right after the scan
            for entry in os.scandir(folder.path):
                if not entry.is_file(follow_symlinks=False) or not _is_shard_name(entry.name):
                    log.warning("ignoring unexpected file %s", entry.path)
                    continue
                used += entry.stat(follow_symlinks=False).st_size
                count += 1
        self._used_bytes, self._shard_count = used, count
        log.info("shard store %s: %d shards, %d bytes", self.data_dir, count, used)


class ShardWriter:
    """One shard being written: append() each chunk in stripe order, then
    commit(). Any failure, or abort(), removes the temp file."""

    def __init__(
        self,
        store: ShardStore,
        meta: ShardMeta,
        fd: int,
        tmp_path: Path,
        final_path: Path,
        recycled: bool = False,
    ) -> None:
        """recycled: fd is a spare file (node/spares.py), overwritten from its
        start; commit() cuts it at the end of what was written."""
        self.meta = meta
        self._store = store
        self._fd = fd
        self._recycled = recycled
        self._tmp_path = tmp_path
        self._final_path = final_path
        self._next_stripe = 0
        self._lock = threading.Lock()
        self._done = False

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()

    @property
    def chunks_written(self) -> int:
        return self._next_stripe

    def append(self, stripe_index: int, data: Buffer, chunk_crc32c: int) -> None:
        """Checks a received chunk (order, length, CRC32C) and writes its record."""
        with self._lock:
            self._check_open()
            try:
                self._check_chunk(stripe_index, data, chunk_crc32c)
                _write_all(self._fd, [RECORD.pack(len(data), chunk_crc32c), data])
            except BaseException as exc:
                self._discard(exc)
                raise
            self._next_stripe += 1
            if self._next_stripe < self.meta.stripe_count:
                # more chunks to come: write this one out meanwhile (commit's
                # fdatasync then has little left; node/writeback.py)
                start_writeback(self._fd)

    def commit(self, chunk_count: int, trailer: bytes = b"") -> int:
        """Writes the trailer block and makes the shard durable (fdatasync,
        rename, folder fsync shared with concurrent commits); returns its size
        in bytes. Raises InvalidShard if chunk_count is not what was sent and
        what the header promised, or the trailer is too long.

        fdatasync, not fsync: it flushes the data and every metadata change
        needed to read the data back (the file's size and block map, all
        new here: the file was created by this writer); it may skip only
        timestamps. The one timestamp read is mtime (GC's modified_before and
        ListShards' modified_at), and a file created by this writer cannot
        come back from a crash with an mtime older than its creation, inside
        this same write: GC's grace period covers that (docs/erasure-coding.md).
        A spare written over (recycled) could come back with the mtime of the
        shard it held before, so it is fsynced instead.
        The rename must follow the flush: renaming first could leave a
        complete-looking name over a file whose data never reached the disk."""
        with self._lock:
            self._check_open()
            try:
                if not chunk_count == self._next_stripe == self.meta.stripe_count:
                    raise InvalidShard(
                        f"finish says {chunk_count} chunks; received {self._next_stripe}, "
                        f"header says {self.meta.stripe_count}"
                    )
                _write_all(self._fd, [encode_trailer(trailer)])
                started = time.perf_counter()
                if self._recycled:
                    # Cut off the spare's old bytes; fsync, because fdatasync
                    # may leave the mtime of the spare's old shard on disk.
                    os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_CUR))
                    os.fsync(self._fd)
                else:
                    os.fdatasync(self._fd)
                metrics.FSYNC_SECONDS.labels(target="file").observe(time.perf_counter() - started)
                if self.meta.is_parity:
                    drop_cached(self._fd)
                os.close(self._fd)
                self._fd = -1
                size = self._store._install(self._tmp_path, self._final_path)
            except BaseException as exc:
                self._discard(exc)
                raise
            self._done = True
            return size

    def abort(self) -> None:
        """Discards the shard (no-op once committed or already discarded)."""
        with self._lock:
            if not self._done:
                self._discard()

    def _check_open(self) -> None:
        if self._done:
            raise InvalidShard("shard writer already finished")

    def _check_chunk(self, stripe_index: int, data: Buffer, chunk_crc32c: int) -> None:
        meta = self.meta
        if stripe_index != self._next_stripe:
            raise InvalidShard(f"chunk {stripe_index} out of order; expected {self._next_stripe}")
        if stripe_index >= meta.stripe_count:
            raise InvalidShard(f"chunk {stripe_index} beyond {meta.stripe_count} stripes")
        expected = meta.chunk_length_bytes(stripe_index)
        if len(data) != expected:
            raise InvalidShard(f"chunk {stripe_index} is {len(data)} bytes; expected {expected}")
        if crc32c(data) != chunk_crc32c:
            metrics.CHECKSUM_FAILURES.labels(stage="receive").inc()
            raise ChecksumMismatch(f"chunk {stripe_index} of {meta.version_id}.{meta.shard_index}")

    def _discard(self, failure: BaseException | None = None) -> None:
        """Removes the temp file; a write that ran out of space (failure)
        first lets the store give its spare files back."""
        self._done = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._tmp_path.unlink(missing_ok=True)
        if isinstance(failure, OSError) and _out_of_space(failure):
            self._store.release_spares()


class ShardReader:
    """An open shard whose header has been verified; reads verified chunks."""

    def __init__(
        self,
        path: str,
        fd: int,
        meta: ShardMeta,
        header_length: int,
        format_version: int,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self.meta = meta
        self.format_version = format_version
        self._fd = fd
        self._on_close = on_close
        self._header_length = header_length
        self._lock = threading.Lock()

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def stripe_range(self, stripe_start: int, stripe_count: int) -> range:
        """The stripes [start, start + count) (count 0: to the end), checked."""
        total = self.meta.stripe_count
        end = total if stripe_count == 0 else stripe_start + stripe_count
        if stripe_start < 0 or stripe_count < 0 or end > total or stripe_start > end:
            raise RangeNotSatisfiable(
                f"stripes [{stripe_start}, +{stripe_count}) of a {total}-stripe shard"
            )
        return range(stripe_start, end)

    def read_chunk(self, stripe_index: int, cached_only: bool = False) -> tuple[memoryview, int]:
        """Returns (data, crc32c) of one chunk, verified; raises ChunkCorrupt.
        The data is a view into the record read, not a copy (an answer joins
        it into its message once: proto/wire.py). cached_only: NotCached
        unless the whole record is in the page cache."""
        meta = self.meta
        assert 0 <= stripe_index < meta.stripe_count, (stripe_index, meta.stripe_count)
        expected = meta.chunk_length_bytes(stripe_index)
        offset = record_offset_bytes(self._header_length, meta.chunk_size_bytes, stripe_index)
        with self._lock:
            if self._fd < 0:
                raise ValueError("read from a closed shard reader")
            raw = _pread(self._fd, RECORD.size + expected, offset, cached_only)
        problem = _record_problem(raw, expected)
        if problem is not None:
            metrics.CHECKSUM_FAILURES.labels(stage="read").inc()
            raise ChunkCorrupt(f"chunk {stripe_index}: {problem}", self.path, stripe_index)
        _, chunk_crc = RECORD.unpack_from(raw)
        return memoryview(raw)[RECORD.size :], chunk_crc

    def read_trailer(self) -> bytes:
        """The verified trailer (b"" for a format-1 file or a shard written
        without one); raises ShardCorrupt when the trailer block is damaged."""
        if self.format_version == 1:
            return b""
        offset = trailer_offset_bytes(self.meta, self._header_length)
        with self._lock:
            if self._fd < 0:
                raise ValueError("read from a closed shard reader")
            try:
                length, trailer_crc = decode_trailer_prefix(
                    os.pread(self._fd, TRAILER.size, offset)
                )
                raw = os.pread(self._fd, length, offset + TRAILER.size)
                if len(raw) != length:
                    raise FormatError(f"truncated trailer ({len(raw)} of {length} bytes)")
                return check_trailer(raw, trailer_crc)
            except FormatError as exc:
                metrics.CHECKSUM_FAILURES.labels(stage="read").inc()
                raise ShardCorrupt(f"trailer: {exc}", self.path) from exc

    def drop_cached(self) -> None:
        """Asks the kernel to drop this shard's pages from the page cache (a
        hint: node/writeback.py)."""
        with self._lock:
            if self._fd >= 0:
                drop_cached(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._on_close()


def _pread(fd: int, length: int, offset: int, cached_only: bool) -> bytes | bytearray:
    """os.pread, or with cached_only the page-cache-only read (NotCached)."""
    return pread_cached(fd, length, offset) if cached_only else os.pread(fd, length, offset)


def _record_problem(raw: bytes | bytearray, expected_length: int) -> str | None:
    """Why a chunk record is bad, or None when it is intact."""
    if len(raw) < RECORD.size + expected_length:
        return f"truncated ({len(raw)} bytes)"
    length, chunk_crc = RECORD.unpack_from(raw)
    if length != expected_length:
        return f"length field {length}, expected {expected_length}"
    if crc32c(memoryview(raw)[RECORD.size :]) != chunk_crc:
        return "checksum mismatch"
    return None


def _is_shard_name(name: str) -> bool:
    version_id, _, index = name.partition(".")
    return is_version_id(version_id) and index.isdigit() and index == str(int(index))


def _out_of_space(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


def _write_all(fd: int, parts: Sequence[Buffer]) -> None:
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _lock_folder(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise StoreLocked(f"{path.parent} is in use by another node process") from exc
        raise
    return fd
