"""The pure parts of repair scheduling and GC: the throttle, progress and ETA,
leadership expiry, and GC's "is this shard referenced" decision."""

from __future__ import annotations

import dataclasses

from metadata.election import still_leading
from metadata.gc import kept_for_rebuild, referenced
from metadata.repair import SCAN_PAUSE_FACTOR, Progress, Throttle, scan_pause_seconds
from tessera.model import BucketInfo, Segment, ShardLocation
from tests.unit.metadata.conftest import VersionFactory


def test_throttle_paces_to_the_rate() -> None:
    now = [100.0]
    throttle = Throttle(clock=lambda: now[0])
    assert throttle.delay_for(1000, 1000.0) == 0.0
    assert throttle.delay_for(500, 1000.0) == 1.0  # the first 1000 bytes take a second
    assert throttle.delay_for(500, 10.0) == 100.0  # a lower rate stretches the wait
    now[0] = 100.5
    assert throttle.delay_for(500, 1e4) == 0.0  # a higher one shortens it
    assert throttle.delay_for(10, 1000.0) == 0.5  # the 500 bytes just booked
    now[0] = 110.0  # idle time is not banked beyond now
    assert throttle.delay_for(10, 1000.0) == 0.0


def test_progress_eta() -> None:
    p = Progress(rate_bytes_per_second=100.0)
    assert p.eta_seconds(0.0) == 0.0
    p.queue_bytes, p.queue_shards = 1000, 10
    assert p.eta_seconds(0.0) == 10.0  # no history: the configured rate
    p.note_repaired(1.0, 100)
    p.note_repaired(3.0, 100)
    assert p.queue_bytes == 800 and p.repaired_shards == 2
    assert p.throughput(3.0) == 100.0
    p.blocked_shards = 1
    assert p.eta_seconds(3.0) == -1.0


def test_leadership_expires_after_the_ttl() -> None:
    assert still_leading(10.0, 15.0, 10)
    assert not still_leading(10.0, 20.0, 10)
    assert not still_leading(0.0, 1.0, 10)


def test_gc_references(make_version: VersionFactory) -> None:
    v = make_version("b", "k", size_bytes=1000)
    assert referenced(v, v.version_id, 1, "n2")
    assert not referenced(v, v.version_id, 1, "n9")  # a duplicate left on another node
    assert not referenced(v, "other-version", 1, "n2")  # overwritten
    assert not referenced(None, v.version_id, 1, "n2")  # deleted, or never committed
    moved = make_version("b", "k", size_bytes=1000, placement=(ShardLocation(0, "n1"),))
    assert not referenced(moved, moved.version_id, 1, "n2")  # slot never written
    # a noncurrent version of a versioned bucket keeps its shards
    newer = make_version("b", "k", size_bytes=1000)
    assert referenced(None, v.version_id, 1, "n2", noncurrent=[newer, v])
    assert not referenced(None, v.version_id, 1, "n2", noncurrent=[newer])


def test_gc_keeps_the_manifest_of_a_multipart_version(make_version: VersionFactory) -> None:
    part = make_version("b", "k", size_bytes=1000)
    segment = Segment(
        shard_set_id=part.version_id,
        part_number=1,
        size_bytes=1000,
        etag="0" * 32,
        data_shards=part.data_shards,
        parity_shards=part.parity_shards,
        chunk_size_bytes=part.chunk_size_bytes,
        placement=part.placement,
    )
    whole = dataclasses.replace(
        make_version("b", "k", size_bytes=1000), placement=(), segments=(segment,)
    )
    # the manifest: under the version id, on whichever node the gateway placed it
    assert referenced(whole, whole.version_id, 5, "any-node")
    assert referenced(None, whole.version_id, 0, "n1", noncurrent=[whole])
    assert referenced(whole, part.version_id, 1, "n2")  # the part's own shards
    plain = make_version("b", "k", size_bytes=1000)
    assert not referenced(plain, plain.version_id, 1, "n9")  # no manifest for a single part
    assert not referenced(None, whole.version_id, 0, "n1")  # the version is gone


def test_gc_keeps_shards_metadata_may_not_know_yet() -> None:
    cutoff = 1000.0  # now - grace
    assert kept_for_rebuild(None, 10.0, cutoff)  # no such bucket: lost metadata
    rebuilt = BucketInfo(name="b", owner="o", created_at=1500.0)  # younger than the grace
    assert kept_for_rebuild(rebuilt, 900.0, cutoff)  # written before the bucket
    settled = BucketInfo(name="b", owner="o", created_at=500.0)  # older than the grace
    assert not kept_for_rebuild(settled, 400.0, cutoff)
    assert not kept_for_rebuild(settled, 900.0, cutoff)  # written in the bucket's life


def test_scan_pause_stretches_with_a_long_scan() -> None:
    assert scan_pause_seconds(10.0, 0.0) == 10.0  # a small store: the interval
    assert scan_pause_seconds(10.0, 2.0) == 10.0
    # a scan of 5 s in a large store: scanning keeps to 1/(1+factor) of the time
    assert scan_pause_seconds(10.0, 5.0) == SCAN_PAUSE_FACTOR * 5.0 > 10.0
