"""ShardStore on a real folder: durability protocol, verification, accounting."""

from __future__ import annotations

import dataclasses
import mmap
import os
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from node.errors import (
    ChecksumMismatch,
    ChunkCorrupt,
    InvalidShard,
    RangeNotSatisfiable,
    ShardCorrupt,
    ShardNotFound,
)
from node.folder_sync import FolderSyncer, fsync_folder
from node.shard_format import (
    PREFIX,
    RECORD,
    TRAILER,
    encode_header,
    expected_file_size_bytes,
)
from node.store import ShardStore, StoreLocked
from tests.unit.node.residency import evict, resident_pages


@pytest.fixture
def store(tmp_path: Path):
    s = ShardStore(tmp_path / "data")
    yield s
    s.close()


def write(store: ShardStore, shard) -> int:
    with store.begin_write(shard.meta) as writer:
        for i, (chunk, crc) in enumerate(zip(shard.chunks, shard.crcs, strict=True)):
            writer.append(i, chunk, crc)
        return writer.commit(len(shard.chunks))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_round_trip(store, make_shard):
    shard = make_shard(object_size_bytes=1000)
    size = write(store, shard)
    assert size == expected_file_size_bytes(shard.meta)
    assert list(store.read_stripes(shard.meta.version_id, 0)) == shard.chunks
    assert files_under(store.tmp_dir) == []
    with store.open_reader(shard.meta.version_id, 0) as reader:
        assert reader.meta == shard.meta
        assert reader.read_chunk(7) == (shard.chunks[7], shard.crcs[7])


def test_file_lives_under_a_random_fan_out_folder(store, make_shard):
    shard = make_shard()
    write(store, shard)
    vid = shard.meta.version_id
    assert (store.shards_dir / vid[-2:] / f"{vid}.0").is_file()


def test_range_of_stripes(store, make_shard):
    shard = make_shard(object_size_bytes=1000)
    write(store, shard)
    vid = shard.meta.version_id
    assert list(store.read_stripes(vid, 0, 2, 3)) == shard.chunks[2:5]
    assert list(store.read_stripes(vid, 0, 5, 0)) == shard.chunks[5:]
    assert list(store.read_stripes(vid, 0, 7, 1)) == shard.chunks[7:]
    assert list(store.read_stripes(vid, 0, 8, 0)) == []
    for start, count in [(7, 2), (9, 0), (8, 1)]:
        with pytest.raises(RangeNotSatisfiable):
            list(store.read_stripes(vid, 0, start, count))


def test_empty_object_shard(store, make_shard):
    shard = make_shard(object_size_bytes=0)
    write(store, shard)
    assert list(store.read_stripes(shard.meta.version_id, 0)) == []


def test_crc_mismatch_on_write_stores_nothing(store, make_shard):
    shard = make_shard()
    with store.begin_write(shard.meta) as writer:
        writer.append(0, shard.chunks[0], shard.crcs[0])
        with pytest.raises(ChecksumMismatch):
            writer.append(1, shard.chunks[1], shard.crcs[1] ^ 1)
        with pytest.raises(InvalidShard):  # the writer is finished after a failure
            writer.commit(len(shard.chunks))
    assert files_under(store.data_dir / "shards") == []
    assert files_under(store.tmp_dir) == []
    assert (store.used_bytes, store.shard_count) == (0, 0)


@pytest.mark.parametrize(
    "mistake", ["out_of_order", "short_chunk", "long_chunk", "too_many", "wrong_count"]
)
def test_protocol_mistakes_store_nothing(store, make_shard, mistake):
    shard = make_shard(object_size_bytes=300)  # 3 stripes: 64, 64, 22 bytes
    chunks, crcs = shard.chunks, shard.crcs
    with pytest.raises(InvalidShard), store.begin_write(shard.meta) as writer:
        if mistake == "out_of_order":
            writer.append(1, chunks[1], crcs[1])
        elif mistake == "short_chunk":
            writer.append(0, chunks[0][:-1], crcs[0])
        elif mistake == "long_chunk":
            writer.append(0, chunks[0], crcs[0])
            writer.append(1, chunks[1], crcs[1])
            writer.append(2, chunks[2] + b"x", crcs[2])
        else:
            for i in range(3):
                writer.append(i, chunks[i], crcs[i])
            if mistake == "too_many":
                writer.append(3, chunks[2], crcs[2])
            writer.commit(2)
    assert files_under(store.data_dir / "shards") == []
    assert files_under(store.tmp_dir) == []


def test_abandoned_writer_stores_nothing(store, make_shard):
    shard = make_shard()
    writer = store.begin_write(shard.meta)
    writer.append(0, shard.chunks[0], shard.crcs[0])
    assert len(files_under(store.tmp_dir)) == 1
    writer.abort()
    writer.abort()  # idempotent
    assert files_under(store.tmp_dir) == []
    with pytest.raises(ShardNotFound):
        store.open_reader(shard.meta.version_id, 0)


def test_abort_after_commit_keeps_the_shard(store, make_shard):
    shard = make_shard()
    writer = store.begin_write(shard.meta)
    for i, chunk in enumerate(shard.chunks):
        writer.append(i, chunk, shard.crcs[i])
    writer.commit(len(shard.chunks))
    writer.abort()
    assert list(store.read_stripes(shard.meta.version_id, 0)) == shard.chunks


def test_parity_shards_leave_the_page_cache_and_data_shards_stay(store, make_shard, tmp_path):
    """Once durable, a parity shard's pages are dropped from the page cache
    (gateways read parity only when a data shard fails); a data shard's stay,
    for the GET that follows its PUT."""
    probe = tmp_path / "probe"
    probe.write_bytes(os.urandom(256 * 1024))
    evict(probe)  # skips where the file system keeps written files in memory (tmpfs)
    version_id = make_shard().meta.version_id
    shards = [
        make_shard(
            object_size_bytes=3 * 2 * 64 * 1024,  # three stripes of two 64 KiB chunks
            data_shards=2,
            parity_shards=2,
            chunk_size_bytes=64 * 1024,
            shard_index=index,
            version_id=version_id,
        )
        for index in range(4)
    ]
    for shard in shards:
        write(store, shard)
    resident = [resident_pages(store.shard_path(version_id, index)) for index in range(4)]
    whole = -(-store.shard_path(version_id, 0).stat().st_size // mmap.PAGESIZE)
    assert resident == [whole, whole, 0, 0]
    # still readable, from the disk
    assert list(store.read_stripes(version_id, 3)) == shards[3].chunks


def test_verify_leaves_a_parity_shard_out_of_the_page_cache(store, make_shard):
    """The scrubber's full read of a parity shard does not leave it cached;
    a data shard it reads stays as the read left it."""
    version_id = make_shard().meta.version_id
    for index in (0, 2):
        write(
            store,
            make_shard(
                object_size_bytes=2 * 64 * 1024,
                data_shards=2,
                parity_shards=1,
                chunk_size_bytes=64 * 1024,
                shard_index=index,
                version_id=version_id,
            ),
        )
        path = store.shard_path(version_id, index)
        evict(path)  # skips where the file system keeps written files in memory (tmpfs)
        assert store.verify(version_id, index) == 64 * 1024
    assert resident_pages(store.shard_path(version_id, 0)) > 0
    assert resident_pages(store.shard_path(version_id, 2)) == 0


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))


def checksum_failures(stage: str) -> float:
    value = REGISTRY.get_sample_value("tessera_node_checksum_failures_total", {"stage": stage})
    return value or 0.0


def test_corrupt_chunk_is_never_returned(store, make_shard):
    failures_before = checksum_failures("read")
    shard = make_shard(object_size_bytes=1000)
    write(store, shard)
    vid = shard.meta.version_id
    path = store.shard_path(vid, 0)
    header_length = len(encode_header(shard.meta)) - PREFIX.size
    # One data byte inside stripe 3's chunk.
    flip_byte(path, PREFIX.size + header_length + 3 * (RECORD.size + 64) + RECORD.size + 10)
    with store.open_reader(vid, 0) as reader:
        assert reader.read_chunk(2)[0] == shard.chunks[2]
        with pytest.raises(ChunkCorrupt) as caught:
            reader.read_chunk(3)
        assert reader.read_chunk(4)[0] == shard.chunks[4]
    assert caught.value.stripe_index == 3
    assert checksum_failures("read") == failures_before + 1
    assert caught.value.path == str(path)
    received: list[bytes] = []
    with pytest.raises(ChunkCorrupt):
        for chunk in store.read_stripes(vid, 0):
            received.append(chunk)
    assert received == shard.chunks[:3]
    assert path.exists()  # kept for repair, never deleted


def test_corrupt_length_field_and_truncation(store, make_shard):
    shard = make_shard(object_size_bytes=1000)
    write(store, shard)
    vid = shard.meta.version_id
    path = store.shard_path(vid, 0)
    header_length = len(encode_header(shard.meta)) - PREFIX.size
    flip_byte(path, PREFIX.size + header_length)  # stripe 0's length field
    # the (empty) trailer block goes, and the last chunk loses a byte
    os.truncate(path, path.stat().st_size - TRAILER.size - 1)
    with store.open_reader(vid, 0) as reader:
        with pytest.raises(ChunkCorrupt, match="length"):
            reader.read_chunk(0)
        with pytest.raises(ChunkCorrupt, match="truncated"):
            reader.read_chunk(7)


def test_trailer_round_trip(store, make_shard):
    shard = make_shard(object_size_bytes=1000)
    trailer = b'{"etag":"0123","content_type":"text/plain"}'
    with store.begin_write(shard.meta) as writer:
        for i, (chunk, crc) in enumerate(zip(shard.chunks, shard.crcs, strict=True)):
            writer.append(i, chunk, crc)
        size = writer.commit(len(shard.chunks), trailer)
    assert size == expected_file_size_bytes(shard.meta, 2, len(trailer))
    vid = shard.meta.version_id
    assert store.read_trailer(vid, 0) == (shard.meta, trailer)
    assert list(store.read_stripes(vid, 0)) == shard.chunks
    assert store.verify(vid, 0) == sum(map(len, shard.chunks)) + len(trailer)


def test_shard_without_trailer_reads_an_empty_one(store, make_shard):
    shard = make_shard(object_size_bytes=0)
    write(store, shard)
    assert store.read_trailer(shard.meta.version_id, 0) == (shard.meta, b"")


def test_format_1_shard_is_still_read(store, make_shard):
    """A file written before the trailer existed: no trailer block at all."""
    shard = make_shard(object_size_bytes=1000)
    raw = bytearray(encode_header(shard.meta, 1))
    for chunk, crc in zip(shard.chunks, shard.crcs, strict=True):
        raw += RECORD.pack(len(chunk), crc) + chunk
    assert len(raw) == expected_file_size_bytes(shard.meta, 1)
    path = store.shard_path(shard.meta.version_id, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(raw))
    vid = shard.meta.version_id
    assert list(store.read_stripes(vid, 0)) == shard.chunks
    assert store.read_trailer(vid, 0) == (shard.meta, b"")
    assert store.verify(vid, 0) == sum(map(len, shard.chunks))


def test_corrupt_trailer_is_detected(store, make_shard):
    shard = make_shard(object_size_bytes=1000)
    with store.begin_write(shard.meta) as writer:
        for i, (chunk, crc) in enumerate(zip(shard.chunks, shard.crcs, strict=True)):
            writer.append(i, chunk, crc)
        writer.commit(len(shard.chunks), b'{"etag":"0123"}')
    vid = shard.meta.version_id
    path = store.shard_path(vid, 0)
    flip_byte(path, path.stat().st_size - 3)
    with pytest.raises(ShardCorrupt, match="trailer"):
        store.read_trailer(vid, 0)
    with pytest.raises(ShardCorrupt, match="trailer"):
        store.verify(vid, 0)
    assert list(store.read_stripes(vid, 0)) == shard.chunks  # the chunks are intact


def test_corrupt_header_is_detected_on_open(store, make_shard):
    shard = make_shard()
    write(store, shard)
    path = store.shard_path(shard.meta.version_id, 0)
    flip_byte(path, PREFIX.size + 3)
    with pytest.raises(ShardCorrupt):
        store.open_reader(shard.meta.version_id, 0)


def test_header_must_name_the_file(store, make_shard):
    shard = make_shard()
    write(store, shard)
    other = make_shard()
    os.makedirs(store.shard_path(other.meta.version_id, 0).parent, exist_ok=True)
    os.rename(
        store.shard_path(shard.meta.version_id, 0), store.shard_path(other.meta.version_id, 0)
    )
    with pytest.raises(ShardCorrupt, match="header names"):
        store.open_reader(other.meta.version_id, 0)


def test_missing_shard(store):
    with pytest.raises(ShardNotFound):
        store.open_reader("0" * 26, 0)
    assert store.delete("0" * 26, 0) is False


@pytest.mark.parametrize(
    ("version_id", "shard_index"),
    [
        ("../../../../etc/passwd", 0),
        ("../" + "0" * 23, 0),
        ("0" * 25 + "/", 0),
        ("", 0),
        ("0" * 26, -1),
        ("0" * 26, 256),
    ],
)
def test_path_traversal_is_rejected(store, make_shard, version_id, shard_index):
    with pytest.raises(InvalidShard):
        store.open_reader(version_id, shard_index)
    with pytest.raises(InvalidShard):
        store.delete(version_id, shard_index)
    meta = dataclasses.replace(make_shard().meta, version_id=version_id, shard_index=shard_index)
    with pytest.raises(InvalidShard):
        store.begin_write(meta)


def test_delete(store, make_shard):
    shard = make_shard()
    write(store, shard)
    assert store.shard_count == 1
    assert store.delete(shard.meta.version_id, 0) is True
    assert (store.used_bytes, store.shard_count) == (0, 0)
    with pytest.raises(ShardNotFound):
        store.open_reader(shard.meta.version_id, 0)


def test_delete_many_fsyncs_each_folder_once_after_its_unlinks(tmp_path: Path, make_shard):
    synced: list[Path] = []
    store = ShardStore(tmp_path / "data", FolderSyncer(synced.append))
    first = make_shard()
    other = make_shard()  # another version id: most likely another folder
    for shard in (first, make_shard(version_id=first.meta.version_id, shard_index=1), other):
        write(store, shard)
    folders = [store.shards_dir / s.meta.version_id[-2:] for s in (first, other)]
    synced.clear()
    existed = store.delete_many(
        [
            (first.meta.version_id, 0, 0.0),
            (first.meta.version_id, 1, 0.0),
            (first.meta.version_id, 2, 0.0),  # never written
            (other.meta.version_id, 0, 0.0),
        ]
    )
    assert existed == [True, True, False, True]
    assert synced == list(dict.fromkeys(folders))
    assert (store.used_bytes, store.shard_count) == (0, 0)
    with pytest.raises(InvalidShard):  # checked before anything is removed
        store.delete_many([(first.meta.version_id, 0, 0.0), ("../x", 0, 0.0)])
    store.close()


def test_rewrite_replaces_and_counts_once(store, make_shard):
    shard = make_shard()
    size = write(store, shard)
    assert write(store, shard) == size
    assert (store.used_bytes, store.shard_count) == (size, 1)


def test_restart_counts_used_bytes_and_removes_temp_files(tmp_path, make_shard):
    store = ShardStore(tmp_path)
    sizes = [write(store, make_shard(object_size_bytes=n, shard_index=1)) for n in (1, 500, 5000)]
    unfinished = store.begin_write(make_shard().meta)  # a crash mid-write leaves this
    store.close()
    (store.shards_dir / "zz").mkdir()
    (store.shards_dir / "zz" / "notes.txt").write_text("not a shard")

    reopened = ShardStore(tmp_path)
    try:
        assert reopened.used_bytes == sum(sizes)
        assert reopened.shard_count == 3
        assert files_under(reopened.tmp_dir) == []
    finally:
        unfinished.abort()
        reopened.close()


def test_one_store_per_folder(tmp_path):
    first = ShardStore(tmp_path)
    try:
        with pytest.raises(StoreLocked):
            ShardStore(tmp_path)
    finally:
        first.close()
    ShardStore(tmp_path).close()


def test_closed_reader_refuses_reads(store, make_shard):
    shard = make_shard()
    write(store, shard)
    reader = store.open_reader(shard.meta.version_id, 0)
    reader.close()
    reader.close()
    with pytest.raises(ValueError):
        reader.read_chunk(0)


def test_concurrent_commits_into_one_folder_share_folder_fsyncs(tmp_path: Path, make_shard):
    """Eight shards of one version (one fan-out folder) committed at once: the
    folder is fsynced twice, not eight times, and each commit returns only
    after an fsync that began with its file already in the folder."""
    lock = threading.Lock()
    log: list[tuple[str, object]] = []
    gate = threading.Event()
    gate.set()

    def recording_fsync(folder: Path) -> None:
        with lock:
            log.append(("start", (folder, frozenset(os.listdir(folder)))))
        if folder.parent.name == "shards":
            assert gate.wait(30)
        fsync_folder(folder)
        with lock:
            log.append(("end", folder))

    syncer = FolderSyncer(recording_fsync)
    store = ShardStore(tmp_path / "data", syncer)
    vid = make_shard().meta.version_id
    shards = [
        make_shard(version_id=vid, data_shards=4, parity_shards=4, shard_index=i) for i in range(8)
    ]
    write(store, shards[0])  # makes the fan-out folder (and syncs shards/ for it)
    folder = store.shards_dir / vid[-2:]
    log.clear()
    gate.clear()
    done: list[tuple[int, int]] = []  # (shard index, log length at return)

    def commit(shard) -> None:
        write(store, shard)
        with lock:
            done.append((shard.meta.shard_index, len(log)))

    first = threading.Thread(target=commit, args=(shards[1],))
    first.start()
    deadline = time.monotonic() + 30
    while syncer.callers(folder) < 1:  # commit 1 renamed and holds the first fsync
        assert time.monotonic() < deadline
        time.sleep(0.001)
    rest = [threading.Thread(target=commit, args=(s,)) for s in shards[2:]]
    for t in rest:
        t.start()
    while syncer.callers(folder) < 7:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    gate.set()
    for t in [first, *rest]:
        t.join()
    starts = [who for kind, who in log if kind == "start"]
    assert [f for f, _ in starts] == [folder, folder]  # 7 commits, 2 fsyncs, no shards/ sync
    for index, returned_at in done:
        name = f"{vid}.{index}"
        assert any(
            kind == "start"
            and name in who[1]  # type: ignore[index]
            and ("end", folder) in log[i:returned_at]
            for i, (kind, who) in enumerate(log[:returned_at])
        ), f"shard {index} returned before an fsync that saw its file"
    assert store.shard_count == 8
    store.close()


def test_a_new_fan_out_folder_is_made_durable_in_shards_before_commit_returns(
    tmp_path: Path, make_shard
):
    synced: list[Path] = []
    store = ShardStore(tmp_path / "data", FolderSyncer(synced.append))
    shard = make_shard()
    write(store, shard)
    folder = store.shards_dir / shard.meta.version_id[-2:]
    assert synced == [store.shards_dir, folder]
    synced.clear()
    write(store, make_shard(version_id=shard.meta.version_id, shard_index=1))
    assert synced == [folder]  # the folder is known durable now
    store.delete(shard.meta.version_id, 1)
    assert synced == [folder, folder]
    store.close()
    # A reopened store fsyncs shards/ itself (a folder made by an earlier
    # process may not be durable yet), so it does not sync shards/ per folder.
    synced.clear()
    reopened = ShardStore(tmp_path / "data", FolderSyncer(synced.append))
    write(reopened, make_shard(version_id=shard.meta.version_id, shard_index=2))
    assert synced == [folder]
    reopened.close()


def test_writeback_starts_while_more_chunks_are_to_come(store, make_shard, monkeypatch):
    """Every chunk but the last starts the file's writeback (commit's
    fdatasync covers the last); a one-stripe shard never does."""
    import node.store

    calls: list[int] = []
    monkeypatch.setattr(node.store, "start_writeback", lambda fd: calls.append(fd) or True)
    shard = make_shard(object_size_bytes=1000)  # 8 stripes of 2 x 64 bytes
    assert shard.meta.stripe_count == 8
    write(store, shard)
    assert len(calls) == 7
    calls.clear()
    write(store, make_shard(object_size_bytes=100))  # one stripe
    assert calls == []
    assert list(store.read_stripes(shard.meta.version_id, 0)) == shard.chunks


def test_start_writeback_is_accepted_by_the_kernel(tmp_path):
    from node.writeback import start_writeback

    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x" * 65536)
        assert start_writeback(fd)  # Linux: sync_file_range is there
    finally:
        os.close(fd)
