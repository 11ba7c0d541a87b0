"""Recycled shard files (node/spares.py, node/store.py): a deleted shard's
file is kept and the next shard is written over it, never while a reader
has it open; the result is byte for byte a freshly written shard; the pool
is bounded, declines when the disk is short of space, empties when a write
runs out of space, and adopts what an earlier process left."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections import namedtuple
from pathlib import Path

import pytest

import node.spares
import node.store
from node.errors import ShardNotFound
from node.shard_format import expected_file_size_bytes
from node.store import ShardStore
from tests.unit.node.test_store import write


@pytest.fixture
def store(tmp_path: Path):
    s = ShardStore(tmp_path / "data")
    yield s
    s.close()


def spare_files(store: ShardStore) -> list[Path]:
    return sorted((store.data_dir / "spares").iterdir())


def inode(store: ShardStore, version_id: str, index: int = 0) -> int:
    return store.shard_path(version_id, index).stat().st_ino


def test_a_deleted_shard_file_is_written_over_by_the_next_shard(store, make_shard):
    old = make_shard(object_size_bytes=1000)
    write(store, old)
    old_inode = inode(store, old.meta.version_id)
    assert store.delete(old.meta.version_id, 0)
    assert len(spare_files(store)) == 1
    assert store.used_bytes == 0 and store.shard_count == 0
    with pytest.raises(ShardNotFound):
        store.read_meta(old.meta.version_id, 0)

    new = make_shard(object_size_bytes=1000)
    size = write(store, new)
    assert inode(store, new.meta.version_id) == old_inode
    assert spare_files(store) == []
    assert size == expected_file_size_bytes(new.meta) == store.used_bytes
    assert list(store.read_stripes(new.meta.version_id, 0)) == new.chunks
    assert store.verify(new.meta.version_id, 0) > 0


def test_a_larger_spare_is_cut_to_the_new_shard(store, make_shard):
    big = make_shard(object_size_bytes=1500)
    write(store, big)
    store.delete(big.meta.version_id, 0)
    small = make_shard(object_size_bytes=1000)  # fits: at most twice its size
    write(store, small)
    assert spare_files(store) == []
    path = store.shard_path(small.meta.version_id, 0)
    assert path.stat().st_size == expected_file_size_bytes(small.meta)
    assert list(store.read_stripes(small.meta.version_id, 0)) == small.chunks


def test_a_spare_far_larger_than_the_shard_is_left_for_a_larger_one(store, make_shard):
    big = make_shard(object_size_bytes=400_000, chunk_size_bytes=4096)
    write(store, big)
    store.delete(big.meta.version_id, 0)
    small = make_shard(object_size_bytes=1000)
    write(store, small)
    assert len(spare_files(store)) == 1  # the small one was a new file
    large = make_shard(object_size_bytes=380_000, chunk_size_bytes=4096)
    write(store, large)
    assert spare_files(store) == []


def test_a_recycled_shard_is_fsynced_not_fdatasynced(store, make_shard, monkeypatch):
    """fdatasync may leave the spare's old mtime on disk, and GC reads mtimes."""
    calls: list[str] = []  # flushes of files (folder fsyncs not counted)
    fsync, fdatasync = os.fsync, os.fdatasync

    def counted(name: str, flush):  # type: ignore[no-untyped-def]
        def call(fd: int) -> None:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                calls.append(name)
            flush(fd)

        return call

    monkeypatch.setattr(os, "fsync", counted("fsync", fsync))
    monkeypatch.setattr(os, "fdatasync", counted("fdatasync", fdatasync))
    first = make_shard()
    write(store, first)
    assert calls == ["fdatasync"]
    store.delete(first.meta.version_id, 0)
    calls.clear()
    write(store, make_shard())
    assert calls == ["fsync"]


def test_a_shard_being_read_is_unlinked_not_recycled(store, make_shard):
    old = make_shard(object_size_bytes=1000)
    write(store, old)
    with store.open_reader(old.meta.version_id, 0) as reader:
        assert store.delete(old.meta.version_id, 0)
        assert spare_files(store) == []
        write(store, make_shard(object_size_bytes=1000))  # may not land in the reader's file
        assert [reader.read_chunk(i)[0] for i in range(old.meta.stripe_count)] == old.chunks
    # once closed, the next deleted file is kept again
    new = make_shard(object_size_bytes=1000)
    write(store, new)
    store.delete(new.meta.version_id, 0)
    assert len(spare_files(store)) == 1


def test_delete_many_recycles_too(store, make_shard):
    shards = [make_shard(object_size_bytes=500) for _ in range(3)]
    for s in shards:
        write(store, s)
    assert store.delete_many([(s.meta.version_id, 0, 0.0) for s in shards]) == [True] * 3
    assert len(spare_files(store)) == 3


def test_the_pool_keeps_the_newest_files_within_its_bound(tmp_path, make_shard):
    one = expected_file_size_bytes(make_shard(object_size_bytes=1000).meta)
    store = ShardStore(tmp_path / "data", spare_bytes_max=2 * one + 10)
    shards = [make_shard(object_size_bytes=1000) for _ in range(4)]
    too_big = make_shard(object_size_bytes=5000)
    for s in [*shards, too_big]:
        write(store, s)
    inodes = [inode(store, s.meta.version_id) for s in shards]
    for s in shards:
        store.delete(s.meta.version_id, 0)
    kept = {p.stat().st_ino for p in spare_files(store)}
    assert kept == set(inodes[2:])
    store.delete(too_big.meta.version_id, 0)  # alone over the bound: unlinked
    assert {p.stat().st_ino for p in spare_files(store)} == set(inodes[2:])
    store.close()


def test_no_pool_when_its_bound_is_zero(tmp_path, make_shard):
    store = ShardStore(tmp_path / "data", spare_bytes_max=0)
    shard = make_shard()
    write(store, shard)
    store.delete(shard.meta.version_id, 0)
    assert spare_files(store) == []
    store.close()


def test_no_spares_kept_while_the_disk_is_short_of_space(store, make_shard, monkeypatch):
    StatVfs = namedtuple("StatVfs", "f_bavail f_blocks")
    monkeypatch.setattr(node.spares.os, "statvfs", lambda path: StatVfs(5, 100))
    shard = make_shard()
    write(store, shard)
    store.delete(shard.meta.version_id, 0)
    assert spare_files(store) == []


def test_a_write_out_of_space_gives_the_spares_back(store, make_shard, monkeypatch):
    kept = [make_shard() for _ in range(2)]
    for s in kept:
        write(store, s)
    for s in kept:
        store.delete(s.meta.version_id, 0)
    assert len(spare_files(store)) == 2

    def full(fd, parts):
        raise OSError(errno.ENOSPC, "No space left on device")

    shard = make_shard()
    with store.begin_write(shard.meta) as writer:  # takes one spare
        monkeypatch.setattr(node.store, "_write_all", full)
        with pytest.raises(OSError):
            writer.append(0, shard.chunks[0], shard.crcs[0])
    assert spare_files(store) == []
    assert os.listdir(store.tmp_dir) == []


def test_spares_left_by_an_earlier_process_are_adopted(tmp_path, make_shard):
    first = ShardStore(tmp_path / "data")
    shard = make_shard(object_size_bytes=1000)
    write(first, shard)
    first.delete(shard.meta.version_id, 0)
    (spare,) = spare_files(first)
    first.close()
    assert spare.exists()

    second = ShardStore(tmp_path / "data")
    new = make_shard(object_size_bytes=1000)
    write(second, new)
    assert not spare.exists()
    assert spare_files(second) == []
    second.close()


def test_a_create_out_of_space_gives_the_spares_back(store, make_shard, monkeypatch):
    big = make_shard(object_size_bytes=400_000, chunk_size_bytes=4096)
    write(store, big)
    store.delete(big.meta.version_id, 0)  # too large to fit the shard below
    assert len(spare_files(store)) == 1
    real_open = os.open

    def full(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT and str(path).startswith(str(store.tmp_dir)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(OSError):
        store.begin_write(make_shard(object_size_bytes=1000).meta)
    assert spare_files(store) == []


def test_a_getshard_stream_open_across_a_delete_and_a_rewrite_sends_its_own_shard(
    tmp_path, make_shard
):
    """Through a real node servicer: a GetShard stream that has sent its first
    chunk keeps reading its shard while the shard is deleted and new shards
    of the same size are written on the node; every chunk it sends is the
    old shard's (the open file is unlinked, never written over)."""
    from proto import tessera_pb2 as pb
    from tests.unit.loopback_nodes import CALL_METADATA, loopback_nodes

    old = make_shard(object_size_bytes=2 * 64 * 64 * 1024, chunk_size_bytes=64 * 1024)
    news = [
        make_shard(object_size_bytes=2 * 64 * 64 * 1024, chunk_size_bytes=64 * 1024)
        for _ in range(3)
    ]

    async def main() -> list[bytes]:
        async with loopback_nodes(tmp_path, 1) as (node,):
            write(node.store, old)
            call = node.stub.GetShard(
                pb.GetShardRequest(version_id=old.meta.version_id, shard_index=0),
                metadata=CALL_METADATA,
                timeout=30,
            )
            got = []
            async for chunk in call:
                got.append(bytes(chunk.data))
                if len(got) == 1:
                    assert node.store.delete(old.meta.version_id, 0)
                    for new in news:
                        write(node.store, new)
            return got

    got = asyncio.run(main())
    assert got == [bytes(c) for c in old.chunks]
