"""Who signed a request: access key ids resolved to secrets and owners.

The root key from settings is the bootstrap admin and owns as itself. Any
other access key id is looked up in metadata (GetAccessKey, a strong read),
its sealed secret opened with the cluster secret (tessera/sealing.py), and
the answer — found or not — cached for ``KEY_CACHE_SECONDS``.

Invariant: a revoked key stops verifying within KEY_CACHE_SECONDS of the
revocation's commit (plus one metadata call); a key created is usable at once
(a miss is looked up, and a negative answer is cached only that long too).
When metadata cannot be reached, a cached key keeps working until it
expires; an uncached one fails with the metadata error (503), not
InvalidAccessKeyId.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from metadata.client import MetadataClient
from tessera import access, errors
from tessera.sealing import Sealer

KEY_CACHE_SECONDS = 2.0
KEY_CACHE_ENTRIES_MAX = 10_000


@dataclass(frozen=True)
class Principal:
    access_key: str
    secret: str
    owner: str  # bucket owner id: the root access key, or access.owner_id(user)


class KeyCache:
    def __init__(
        self,
        metadata: MetadataClient | None,
        sealer: Sealer,
        root: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metadata = metadata
        self._sealer = sealer
        self._root = root
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def cached(self, access_key: str) -> Principal | None:
        """The principal of access_key if known now (root, or cached and fresh)."""
        if access_key in self._root:
            return Principal(access_key, self._root[access_key], access_key)
        entry = self._cache.get(access_key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return None

    def secret_for(self, access_key: str) -> str | None:
        principal = self.cached(access_key)
        return principal.secret if principal is not None else None

    def owner_for(self, access_key: str) -> str:
        """The owner id of a key whose signature was just verified (its entry
        may have expired in between: it is used all the same)."""
        principal = self.cached(access_key)
        if principal is None:
            entry = self._cache.get(access_key)
            principal = entry[1] if entry is not None else None
        assert principal is not None, "owner_for after a verified signature"
        return principal.owner

    async def resolve(self, access_key: str, *, timeout: float) -> None:  # noqa: ASYNC109
        """Makes cached() current for access_key (a metadata read when stale)."""
        if not access_key or access_key in self._root or self._metadata is None:
            return
        entry = self._cache.get(access_key)
        if entry is not None and entry[0] > self._clock():
            return
        principal: Principal | None = None
        try:
            record = await self._metadata.get_access_key(access_key, timeout=timeout)
        except errors.NoSuchEntity:
            record = None
        if record is not None:
            secret = self._sealer.open(record.access_key_id, record.sealed_secret)
            if secret is not None:
                principal = Principal(access_key, secret, access.owner_id(record.user))
        if len(self._cache) >= KEY_CACHE_ENTRIES_MAX:
            self._cache.clear()
        self._cache[access_key] = (self._clock() + KEY_CACHE_SECONDS, principal)
