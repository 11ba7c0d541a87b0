"""The pure parts of repair scheduling and GC: the throttle, progress and ETA,
leadership expiry, and GC's "is this shard referenced" decision."""

from __future__ import annotations

from metadata.election import still_leading
from metadata.gc import referenced
from metadata.repair import Progress, Throttle
from tessera.model import ShardLocation
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
