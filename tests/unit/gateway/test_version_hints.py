"""VersionHints: bounded, most recently used kept, and only versions a GET
can read from shards without a key are remembered."""

from __future__ import annotations

from dataclasses import replace

from gateway.prefetch import VersionHints, prefetchable
from tessera.model import WRAPPED_DATA_KEY, ObjectVersion, ShardLocation


def version(key: str, version_id: str = "v1", **changes: object) -> ObjectVersion:
    base = ObjectVersion(
        bucket="b",
        key=key,
        version_id=version_id,
        size_bytes=1 << 20,
        etag="e",
        content_type="binary/octet-stream",
        last_modified=0.0,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=tuple(ShardLocation(i, f"node-{i}") for i in range(6)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_remembers_the_latest_version_of_a_key() -> None:
    hints = VersionHints()
    hints.remember(version("k", "v1"))
    hints.remember(version("k", "v2"))
    found = hints.get("b", "k")
    assert found is not None and found.version_id == "v2"
    assert hints.get("b", "other") is None


def test_least_recently_used_goes_first() -> None:
    hints = VersionHints(entries_max=2)
    hints.remember(version("a"))
    hints.remember(version("b"))
    assert hints.get("b", "a") is not None  # a is now the most recently used
    hints.remember(version("c"))
    assert len(hints) == 2
    assert hints.get("b", "b") is None
    assert hints.get("b", "a") is not None and hints.get("b", "c") is not None


def test_versions_a_prefetch_cannot_read_are_forgotten() -> None:
    hints = VersionHints()
    unreadable = [
        version("k", inline_data=b"small", placement=()),
        version("k", delete_marker=True, placement=(), size_bytes=0),
        version("k", size_bytes=0, placement=()),
        version("k", system_metadata={WRAPPED_DATA_KEY: "sealed"}),
    ]
    assert prefetchable(version("k"))
    for v in unreadable:
        assert not prefetchable(v)
        hints.remember(version("k"))
        hints.remember(v)  # the key's current version can no longer be prefetched
        assert hints.get("b", "k") is None
