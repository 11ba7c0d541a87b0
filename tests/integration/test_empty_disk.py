"""A node that comes back with an empty disk under the same node id: the
repair leader sees a new store id, audits the node (ListShards against the
placements that name it) and rebuilds every missing shard in place, with no
read, scrub or node-down event to trigger it.

The grace period is long (60 s) so the node is never marked down: before the
audit existed these shards stayed missing until a scrub elsewhere or a failed
read happened to notice."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from node.shard_format import (
    PREFIX,
    TRAILER,
    check_trailer,
    decode_header,
    decode_prefix,
    decode_trailer_prefix,
    trailer_offset_bytes,
)
from tessera.recovery import Trailer, decode_trailer
from tests.integration.harness import s3_client, start_small_54
from tests.integration.test_repair import (
    FAST,
    KiB,
    MiB,
    _expected_shard,
    _read_shard,
    _versions,
    admin,
    put_objects,
    run,
    shard_files,
    wait_for,
)

pytestmark = pytest.mark.integration


def trailer_of(path: Path) -> Trailer:
    """The trailer of a format-2 shard file, read from its bytes."""
    raw = path.read_bytes()
    version, header_length, header_crc = decode_prefix(raw[: PREFIX.size])
    assert version == 2
    meta = decode_header(raw[PREFIX.size : PREFIX.size + header_length], header_crc)
    offset = trailer_offset_bytes(meta, header_length)
    length, trailer_crc = decode_trailer_prefix(raw[offset : offset + TRAILER.size])
    body = raw[offset + TRAILER.size : offset + TRAILER.size + length]
    return decode_trailer(check_trailer(body, trailer_crc))


def test_a_wiped_node_gets_its_shards_back_in_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = start_small_54(
        tmp_path / "cluster", {**FAST, "TESSERA_NODE_DOWN_GRACE_SECONDS": "60"}
    )
    try:
        s3 = s3_client(cluster)
        bucket = f"wipe-{uuid.uuid4().hex[:8]}"
        objects = put_objects(s3, bucket, [5000, MiB + 1, 3 * MiB + 77] + [40 * KiB] * 20)
        keys = sorted(objects)
        victim = "node-b2"
        held = shard_files(cluster, victim)
        assert held
        placed_before = {v.version_id: v.placement for v in run(_versions(cluster, bucket, keys))}
        store_id_before = (cluster.node_data_dir(victim) / "store_id").read_text()

        cluster.stop_process(victim)
        shutil.rmtree(cluster.node_data_dir(victim))
        cluster.start_process(victim)
        cluster.wait_ready(60, [victim])
        started = time.monotonic()
        assert (cluster.node_data_dir(victim) / "store_id").read_text() != store_id_before

        wait_for(lambda: shard_files(cluster, victim) >= held, 60, "the missing shards rebuilt")
        print(f"{len(held)} shards back on the wiped node {time.monotonic() - started:.1f} s later")
        versions = run(_versions(cluster, bucket, keys))
        # In place: no placement changed, the node holds the same slots again.
        assert {v.version_id: v.placement for v in versions} == placed_before
        for v in versions:
            for loc in v.placement:
                if loc.node_id == victim:
                    got = run(_read_shard(cluster, victim, v.version_id, loc.shard_index))
                    assert got == _expected_shard(objects[v.key], v.geometry, loc.shard_index)
                    # the rebuilt file carries the record's trailer (docs/metadata-recovery.md)
                    path = cluster.node_data_dir(victim) / "shards" / v.version_id[-2:]
                    trailer = trailer_of(path / f"{v.version_id}.{loc.shard_index}")
                    assert (trailer.etag, trailer.size_bytes) == (v.etag, v.size_bytes)
        for key, body in objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        status = admin(cluster, "repair", "status")
        print(status)
        assert "lost: 0  0: 0  1: 0  2: 0  3: 0  4+: 23" in status  # all at full margin
    finally:
        cluster.stop()
