"""A small async etcd v3 client over etcd's JSON gateway (aiohttp).

Why not a gRPC client: aetcd installs and imports with our protobuf, but takes
one endpoint and one client-wide timeout; here every call gets the caller's
deadline and fails over between the members' endpoints, which is what the
metadata replicas need when a member dies, hangs or is cut off. The gateway
(``/v3/kv/range``, ``/v3/kv/txn``, ``/v3/watch`` ...) is served by every etcd
member on its client port; keys and values travel base64-encoded and int64
fields (revisions, lease ids) as strings.

Invariants:
- no call outlives its ``timeout``; an endpoint that does not answer within
  ``ATTEMPT_SECONDS_MAX`` is abandoned for the next one, so one hung member
  costs an attempt, not the whole deadline;
- a write that timed out may still have been applied by etcd (callers make
  every write idempotent: log entries carry request ids, puts are upserts);
- ranges are linearizable (etcd's default: served through the leader's read
  index), never serializable, unless the caller asks.
"""

# ruff: noqa: ASYNC109  (timeout is each call's deadline, by design)

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

ATTEMPT_SECONDS_MAX = 2.0
RETRY_BACKOFF_FIRST_SECONDS = 0.05
RETRY_BACKOFF_MAX_SECONDS = 0.5
WATCH_CHUNK_BYTES_MAX = 64 * 1024 * 1024

# gRPC status codes etcd reports in the gateway's error body.
_OUT_OF_RANGE = 11
_NOT_FOUND = 5


class EtcdError(Exception):
    """etcd refused the request (not worth retrying elsewhere)."""


class EtcdUnavailable(EtcdError):
    """No member answered in time (the request may or may not have been applied)."""


class EtcdCompacted(EtcdError):
    """The requested revision is older than etcd's compaction point."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"revision compacted (compaction point {compact_revision})")
        self.compact_revision = compact_revision


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    revision: int  # the store's revision when the range was served
    kvs: tuple[KeyValue, ...]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    kind: str  # "PUT" or "DELETE"
    kv: KeyValue


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix"."""
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes([trimmed[-1] + 1]) if trimmed else b"\x00"


def _kv(raw: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=base64.b64decode(raw.get("key", "")),
        value=base64.b64decode(raw.get("value", "")),
        create_revision=int(raw.get("create_revision", 0)),
        mod_revision=int(raw.get("mod_revision", 0)),
        version=int(raw.get("version", 0)),
        lease=int(raw.get("lease", 0)),
    )


def _revision(reply: dict[str, Any]) -> int:
    return int(reply.get("header", {}).get("revision", 0))


def _raise_for(body: dict[str, Any]) -> None:
    message = str(body.get("message") or body.get("error") or body)
    if "compacted" in message:
        raise EtcdCompacted(0)
    raise EtcdError(message)


class EtcdClient:
    """Calls to one etcd cluster, failing over between its members' endpoints."""

    def __init__(self, endpoints: Sequence[str]) -> None:
        assert endpoints, "at least one etcd endpoint"
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self._preferred = 0
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=256, force_close=False)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    @property
    def preferred_endpoint(self) -> str:
        return self.endpoints[self._preferred % len(self.endpoints)]

    def demote(self, endpoint: str) -> None:
        """Moves on from an endpoint that misbehaved (a stalled watch, say)."""
        if self.preferred_endpoint == endpoint:
            self._preferred = (self._preferred + 1) % len(self.endpoints)

    # ------------------------------------------------------------ KV

    async def range(
        self,
        key: bytes,
        *,
        timeout: float,
        range_end: bytes | None = None,
        revision: int = 0,
        keys_only: bool = False,
        limit: int = 0,
        serializable: bool = False,
    ) -> RangeResult:
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision:
            body["revision"] = str(revision)
        if keys_only:
            body["keys_only"] = True
        if limit:
            body["limit"] = str(limit)
        if serializable:
            body["serializable"] = True
        reply = await self._post("/v3/kv/range", body, timeout)
        return RangeResult(_revision(reply), tuple(_kv(kv) for kv in reply.get("kvs", ())))

    async def get(self, key: bytes, *, timeout: float) -> tuple[int, KeyValue | None]:
        """(the store's revision, the key's current value or None)."""
        got = await self.range(key, timeout=timeout)
        return got.revision, got.kvs[0] if got.kvs else None

    async def put(self, key: bytes, value: bytes, *, timeout: float, lease: int = 0) -> int:
        """Writes key; returns the revision the write created."""
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return _revision(await self._post("/v3/kv/put", body, timeout))

    async def put_if_absent(
        self, key: bytes, value: bytes, *, timeout: float, lease: int = 0
    ) -> tuple[bool, KeyValue | None]:
        """Creates key only if it does not exist (one transaction); returns
        (created, the key's current value when it was not created)."""
        put: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            put["lease"] = str(lease)
        body = {
            "compare": [
                {"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}
            ],
            "success": [{"request_put": put}],
            "failure": [{"request_range": {"key": b64(key)}}],
        }
        reply = await self._post("/v3/kv/txn", body, timeout)
        if reply.get("succeeded"):
            return True, None
        for response in reply.get("responses", ()):
            kvs = response.get("response_range", {}).get("kvs", ())
            if kvs:
                return False, _kv(kvs[0])
        return False, None

    async def delete(self, key: bytes, *, timeout: float) -> int:
        return _revision(await self._post("/v3/kv/deleterange", {"key": b64(key)}, timeout))

    async def compact(self, revision: int, *, timeout: float) -> None:
        """Drops history older than revision; a revision already compacted is fine."""
        try:
            await self._post("/v3/kv/compaction", {"revision": str(revision)}, timeout)
        except EtcdCompacted:
            pass

    async def status(self, *, timeout: float) -> dict[str, Any]:
        """The preferred member's status (dbSize, leader, raftIndex ...)."""
        return await self._post("/v3/maintenance/status", {}, timeout)

    # ------------------------------------------------------------ leases

    async def lease_grant(self, ttl_seconds: int, *, timeout: float) -> int:
        reply = await self._post("/v3/lease/grant", {"TTL": str(ttl_seconds)}, timeout)
        if reply.get("error"):
            raise EtcdError(str(reply["error"]))
        return int(reply["ID"])

    async def lease_keepalive(self, lease_id: int, *, timeout: float) -> int:
        """Refreshes a lease; returns its TTL (0: the lease has expired or never existed)."""
        reply = await self._post("/v3/lease/keepalive", {"ID": str(lease_id)}, timeout)
        return int(reply.get("result", reply).get("TTL", 0))

    async def lease_revoke(self, lease_id: int, *, timeout: float) -> None:
        try:
            await self._post("/v3/lease/revoke", {"ID": str(lease_id)}, timeout)
        except EtcdError as exc:
            if "not found" not in str(exc):
                raise

    # ------------------------------------------------------------ watch

    async def watch(
        self, key: bytes, start_revision: int, *, connect_timeout: float
    ) -> AsyncIterator[tuple[int, list[WatchEvent]]]:
        """Yields (revision, events) batches for key from start_revision on, in
        revision order, from the preferred endpoint, until the caller stops.

        Raises EtcdCompacted when start_revision is already compacted, and
        EtcdUnavailable when the stream cannot be opened or breaks. A member cut
        off from its peers may simply go quiet: callers watch for stalls.
        """
        endpoint = self.preferred_endpoint
        body = {"create_request": {"key": b64(key), "start_revision": str(start_revision)}}
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=None)
        try:
            async with self._http().post(
                endpoint + "/v3/watch", json=body, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise EtcdUnavailable(f"watch on {endpoint}: HTTP {response.status}")
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    if len(buffer) > WATCH_CHUNK_BYTES_MAX:
                        raise EtcdUnavailable("watch message too large")
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            batch = _watch_batch(json.loads(line))
                            if batch is not None:
                                yield batch
        except (aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
            self.demote(endpoint)
            raise EtcdUnavailable(f"watch on {endpoint}: {exc!r}") from exc
        self.demote(endpoint)
        raise EtcdUnavailable(f"watch on {endpoint} ended")

    # ------------------------------------------------------------ transport

    async def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        backoff = RETRY_BACKOFF_FIRST_SECONDS
        last = "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EtcdUnavailable(f"etcd {path}: out of time ({last})")
            endpoint = self.preferred_endpoint
            attempt = min(remaining, ATTEMPT_SECONDS_MAX)
            try:
                async with self._http().post(
                    endpoint + path, json=body, timeout=aiohttp.ClientTimeout(total=attempt)
                ) as response:
                    reply: dict[str, Any] = await response.json(content_type=None)
                if response.status == 200 and "error" not in reply:
                    return reply
                code = int(reply.get("code", 0))
                if code in (_OUT_OF_RANGE, _NOT_FOUND) or response.status in (400, 404):
                    _raise_for(reply)
                last = f"{endpoint}: {reply.get('message') or reply.get('error')}"
            except (aiohttp.ClientError, OSError, TimeoutError, json.JSONDecodeError) as exc:
                last = f"{endpoint}: {exc!r}"
            # No leader, a timeout, a dead member: try the next member.
            log.debug("etcd %s failed on %s", path, last)
            self.demote(endpoint)
            await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, RETRY_BACKOFF_MAX_SECONDS)


def _watch_batch(message: dict[str, Any]) -> tuple[int, list[WatchEvent]] | None:
    if "error" in message:
        _raise_for(message["error"] if isinstance(message["error"], dict) else message)
    result = message.get("result", {})
    compact_revision = int(result.get("compact_revision", 0))
    if compact_revision:
        raise EtcdCompacted(compact_revision)
    if result.get("canceled"):
        raise EtcdUnavailable(f"watch canceled: {result.get('cancel_reason', '')}")
    events = [
        WatchEvent(kind=str(e.get("type", "PUT")), kv=_kv(e.get("kv", {})))
        for e in result.get("events", ())
    ]
    if not events:
        return None
    return _revision(result), events
