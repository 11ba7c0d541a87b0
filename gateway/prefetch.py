"""Reading a GET's first stripe while metadata is still asked which version
is current.

A GET spends two round trips in a row before its first byte: metadata (the
version, behind a read-index) and then the nodes (the version's chunks). For
an object whose current version this gateway saw recently — it wrote it, or
served it — the second need not wait for the first: VersionHints remembers
(bucket, key) → version for the last HINTS_MAX keys, and a plain GET of such a
key starts reading that version's first stripe (read_path.read_range over the
whole object) at the same time as it asks metadata. When metadata answers
with the same version id, the stripe read so far is that version's — a
version's bytes never change once written, whatever else about its record
does (its ACL, tags, retention, or where its shards now live) — and the GET
goes on from there; any other answer (another version, no key, an error) or a
failed prefetch cancels it, and the GET reads as it always did.

Only a requester the gateway's cached bucket record and the remembered
version's ACL already allow is prefetched for — an anonymous or refused GET
never makes a node read anything. A GET whose record the gateway holds
under a record lease (metadata/leased_records.py) does not prefetch:
metadata answers at once, there is no round trip to overlap. Only plain
GETs prefetch: no versionId,
Range or partNumber (a different span), no conditional headers (a
revalidation usually ends in 304, which needs no bytes), and only versions
kept in shards, unencrypted (an encrypted one needs its data key first). A
prefetch holds its admission reservation (gateway/admission.py) from its
start; when admission refuses, the GET does not prefetch.

Invariant: a response carries only bytes of the version metadata answered
for this request, read after authorization allowed it to be sent; the
prefetch only changes when reading starts, never what is sent or to whom.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor

from aiohttp import web

from gateway import metrics
from gateway.admission import Admission, read_buffer_bytes
from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from gateway.read_path import read_range
from proto.wire import Buffer
from tessera import errors
from tessera.model import ObjectVersion

HINTS_MAX = 4096  # entries; past this the least recently used is dropped
CONDITIONAL_HEADERS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
PLAIN_GET_EXCLUDED_QUERY = ("versionId", "partNumber")


def prefetchable(version: ObjectVersion) -> bool:
    """A version whose bytes come from shards, readable without a key."""
    return (
        not version.delete_marker
        and not version.inline_data
        and not version.is_encrypted
        and version.size_bytes > 0
        and bool(version.shard_sets())
    )


class VersionHints:
    """The current version of recently written or read keys, as this gateway
    last saw it: a guess to start reading early, never an answer."""

    def __init__(self, entries_max: int = HINTS_MAX) -> None:
        self._entries_max = entries_max
        self._entries: OrderedDict[tuple[str, str], ObjectVersion] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, bucket: str, key: str) -> ObjectVersion | None:
        found = self._entries.get((bucket, key))
        if found is not None:
            self._entries.move_to_end((bucket, key))
        return found

    def remember(self, version: ObjectVersion) -> None:
        """version is now (bucket, key)'s current one, as far as this gateway knows."""
        name = (version.bucket, version.key)
        if not prefetchable(version):
            self._entries.pop(name, None)
            return
        self._entries[name] = version
        self._entries.move_to_end(name)
        while len(self._entries) > self._entries_max:
            self._entries.popitem(last=False)


def plain_get(request: web.Request) -> bool:
    """A GET of a whole current version with no condition attached."""
    return (
        request.method == "GET"
        and "Range" not in request.headers
        and not any(name in request.query for name in PLAIN_GET_EXCLUDED_QUERY)
        and not any(name in request.headers for name in CONDITIONAL_HEADERS)
    )


class Prefetch:
    """The first stripe of a guessed version, being read."""

    def __init__(
        self,
        guess: ObjectVersion,
        pieces: AsyncGenerator[Buffer, None],
        reservation: contextlib.ExitStack,
    ) -> None:
        self._guess = guess
        self._pieces = pieces
        self._first: asyncio.Future[Buffer] = asyncio.ensure_future(anext(pieces))
        self._reservation = reservation

    @staticmethod
    def start(
        request: web.Request,
        bucket: str,
        key: str,
        *,
        may_read: Callable[[ObjectVersion], bool],
        hints: VersionHints,
        cluster: ClusterView,
        admission: Admission,
        executor: Executor,
        deadline: Deadline,
    ) -> Prefetch | None:
        """A prefetch of key's hinted version, or None (no hint, not a plain
        GET, a requester who may_read the guess does not allow, or admission
        full). may_read decides on what the gateway already holds (its cached
        bucket record and the guess's ACL): no node is read for a request
        that would be refused on that."""
        if not plain_get(request):
            return None
        guess = hints.get(bucket, key)
        if guess is None or not may_read(guess):
            return None
        reservation = contextlib.ExitStack()
        try:
            reservation.enter_context(
                admission.reserve(read_buffer_bytes(guess.geometry, guess.size_bytes))
            )
        except errors.SlowDown:
            return None
        pieces = read_range(
            cluster=cluster,
            version=guess,
            first=0,
            last=guess.size_bytes - 1,
            executor=executor,
            deadline=deadline,
        )
        return Prefetch(guess, pieces, reservation)

    async def take(self, version: ObjectVersion) -> AsyncGenerator[Buffer, None] | None:
        """The whole of version's bytes, the first stripe already read, when
        version is the one guessed and the prefetch succeeded; else None
        (the prefetch is then cancelled)."""
        if version.version_id != self._guess.version_id or version.size_bytes != (
            self._guess.size_bytes
        ):
            metrics.PREFETCHES.labels(outcome="stale").inc()
            await self.close()
            return None
        try:
            first = await self._first
        except errors.TesseraError:
            metrics.PREFETCHES.labels(outcome="failed").inc()
            await self.close()
            return None
        metrics.PREFETCHES.labels(outcome="used").inc()
        return self._continued(first)

    async def _continued(self, first: Buffer) -> AsyncGenerator[Buffer, None]:
        try:
            yield first
            async for piece in self._pieces:
                yield piece
        finally:
            await self._pieces.aclose()

    async def close(self) -> None:
        """Stops reading (if still running) and releases the reservation; safe
        to call more than once."""
        if not self._first.done():
            self._first.cancel()
        # settled before the generator may be closed
        await asyncio.gather(self._first, return_exceptions=True)
        await self._pieces.aclose()
        self._reservation.close()
