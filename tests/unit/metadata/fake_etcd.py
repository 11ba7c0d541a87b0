"""An in-memory stand-in for metadata.etcd.EtcdClient (no sockets): one
revision counter, per-key history, watches that deliver from a revision,
compaction, and switches to make a watch go silent or calls fail."""

# ruff: noqa: ASYNC109  (the same signatures as metadata.etcd.EtcdClient)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from metadata.etcd import EtcdCompacted, EtcdUnavailable, KeyValue, RangeResult, WatchEvent


class FakeEtcd:
    def __init__(self) -> None:
        self.revision = 0
        self.compacted = 0
        self.history: list[tuple[int, bytes, bytes]] = []  # (revision, key, value)
        self.endpoints = ["a", "b", "c"]
        self.preferred = 0
        self.demoted: list[str] = []
        self.silent_endpoints: set[str] = set()  # watches there deliver nothing
        self.unavailable = False
        self.puts = 0
        self._changed = asyncio.Condition()

    @property
    def preferred_endpoint(self) -> str:
        return self.endpoints[self.preferred]

    def demote(self, endpoint: str) -> None:
        self.demoted.append(endpoint)
        if self.preferred_endpoint == endpoint:
            self.preferred = (self.preferred + 1) % len(self.endpoints)

    def _current(self, key: bytes) -> KeyValue | None:
        for revision, k, value in reversed(self.history):
            if k == key:
                return KeyValue(k, value, revision, revision, 1, 0)
        return None

    async def put(self, key: bytes, value: bytes, *, timeout: float, lease: int = 0) -> int:
        if self.unavailable:
            raise EtcdUnavailable("fake outage")
        self.puts += 1
        self.revision += 1
        self.history.append((self.revision, key, value))
        async with self._changed:
            self._changed.notify_all()
        return self.revision

    async def get(self, key: bytes, *, timeout: float) -> tuple[int, KeyValue | None]:
        if self.unavailable:
            raise EtcdUnavailable("fake outage")
        return self.revision, self._current(key)

    async def range(self, key: bytes, *, timeout: float, **_: object) -> RangeResult:
        if self.unavailable:
            raise EtcdUnavailable("fake outage")
        kv = self._current(key)
        return RangeResult(self.revision, (kv,) if kv else ())

    async def compact(self, revision: int, *, timeout: float) -> None:
        self.compacted = max(self.compacted, revision)

    async def watch(
        self, key: bytes, start_revision: int, *, connect_timeout: float
    ) -> AsyncIterator[tuple[int, list[WatchEvent]]]:
        endpoint = self.preferred_endpoint
        if start_revision <= self.compacted:
            raise EtcdCompacted(self.compacted)
        sent = start_revision - 1
        while True:
            if endpoint in self.silent_endpoints:
                await asyncio.sleep(3600)
            events = [
                WatchEvent("PUT", KeyValue(k, v, r, r, 1, 0))
                for r, k, v in self.history
                if r > sent and k == key
            ]
            if events:
                sent = events[-1].kv.mod_revision
                yield sent, events
                continue
            async with self._changed:
                await self._changed.wait()
