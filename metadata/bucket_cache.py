"""A client-side cache of bucket records, so that an object request does not
cost a GetBucket round trip to metadata every time.

Invariants:
- An entry is served for at most ``ttl_seconds`` after it was read; with a
  ttl of 0 nothing is cached.
- A bucket changed or deleted through this client is seen changed at once by
  this client: every reply that carries a bucket record (the answer of every
  bucket-changing call) replaces the entry, and a deletion drops it.
- A GetBucket that was already in flight when such a change landed never
  overwrites the newer entry (each name has a generation, bumped by changes;
  a read stores only if the generation it started with is still current).
- Missing buckets are never cached: a bucket created elsewhere is usable at once.

Other clients' changes (another gateway's PutBucketPolicy, say) are seen after
at most ttl_seconds; docs/gateway.md says which decisions that can delay.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from tessera.model import BucketInfo

ENTRIES_MAX = 10_000  # past this the least recently read entry is dropped


class BucketCache:
    def __init__(self, ttl_seconds: float, entries_max: int = ENTRIES_MAX) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries_max = entries_max
        self._entries: OrderedDict[str, tuple[float, BucketInfo]] = OrderedDict()
        self._generations: dict[str, int] = {}

    def get(self, name: str) -> BucketInfo | None:
        found = self._entries.get(name)
        if found is None:
            return None
        read_at, bucket = found
        if time.monotonic() - read_at > self.ttl_seconds:
            del self._entries[name]
            return None
        self._entries.move_to_end(name)
        return bucket

    def generation(self, name: str) -> int:
        return self._generations.get(name, 0)

    def read(self, bucket: BucketInfo, started_generation: int) -> None:
        """A GetBucket answer; stored unless a change landed while it was in flight."""
        if self.generation(bucket.name) == started_generation:
            self._store(bucket)

    def changed(self, bucket: BucketInfo) -> None:
        """The answer of a call that created or changed the bucket."""
        self._bump(bucket.name)
        self._store(bucket)

    def deleted(self, name: str) -> None:
        self._bump(name)
        self._entries.pop(name, None)

    def _bump(self, name: str) -> None:
        self._generations[name] = self.generation(name) + 1
        if len(self._generations) > 4 * self._entries_max:
            # Generations only need to outlive a read in flight (milliseconds);
            # forgetting them all at once can at worst let one such read store
            # an entry that expires after ttl_seconds.
            self._generations.clear()

    def _store(self, bucket: BucketInfo) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[bucket.name] = (time.monotonic(), bucket)
        self._entries.move_to_end(bucket.name)
        while len(self._entries) > self._entries_max:
            self._entries.popitem(last=False)
