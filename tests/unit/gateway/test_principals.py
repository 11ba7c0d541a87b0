"""The access-key cache: root key, users' keys, expiry of found and missing keys."""

from __future__ import annotations

from typing import Any, cast

from gateway.principals import KEY_CACHE_SECONDS, KeyCache
from metadata.client import MetadataClient
from tessera import errors
from tessera.model import AccessKeyInfo
from tessera.sealing import Sealer


class FakeMetadata:
    def __init__(self) -> None:
        self.keys: dict[str, AccessKeyInfo] = {}
        self.calls = 0

    async def get_access_key(self, access_key_id: str, *, timeout: float) -> AccessKeyInfo:  # noqa: ASYNC109
        self.calls += 1
        if access_key_id not in self.keys:
            raise errors.NoSuchEntity()
        return self.keys[access_key_id]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_revocation_and_creation_show_within_the_cache_time() -> None:
    sealer, fake, clock = Sealer("s"), FakeMetadata(), Clock()
    cache = KeyCache(cast(MetadataClient, cast(Any, fake)), sealer, {"ROOT": "root-secret"}, clock)
    assert cache.secret_for("ROOT") == "root-secret"
    assert cache.owner_for("ROOT") == "ROOT"
    await cache.resolve("TK1", timeout=1)
    assert cache.secret_for("TK1") is None  # unknown: cached as missing
    fake.keys["TK1"] = AccessKeyInfo("TK1", "alice", sealer.seal("TK1", "sekrit"), 1.0)
    await cache.resolve("TK1", timeout=1)
    assert fake.calls == 1 and cache.secret_for("TK1") is None
    clock.now += KEY_CACHE_SECONDS
    await cache.resolve("TK1", timeout=1)
    assert cache.secret_for("TK1") == "sekrit"
    assert cache.owner_for("TK1") == "user:alice"
    del fake.keys["TK1"]  # revoked
    await cache.resolve("TK1", timeout=1)
    assert cache.secret_for("TK1") == "sekrit"  # still cached ...
    clock.now += KEY_CACHE_SECONDS
    assert cache.secret_for("TK1") is None  # ... until it expires
    await cache.resolve("TK1", timeout=1)
    assert cache.secret_for("TK1") is None


async def test_a_secret_sealed_under_another_cluster_secret_is_refused() -> None:
    fake = FakeMetadata()
    fake.keys["TK2"] = AccessKeyInfo("TK2", "bob", Sealer("other").seal("TK2", "x"), 1.0)
    cache = KeyCache(cast(MetadataClient, cast(Any, fake)), Sealer("s"), {})
    await cache.resolve("TK2", timeout=1)
    assert cache.secret_for("TK2") is None
