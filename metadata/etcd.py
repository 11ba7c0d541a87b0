"""A small async etcd v3 client over etcd's native gRPC API (grpc.aio).

Every metadata read (its read index is a linearizable range) and every commit
(a put of the log key) is a call through this client, so its cost is on the
request path. Measured here against three loopback members of etcd 3.4, a
linearizable range cost etcd 0.54 ms of CPU and 0.60 ms p50 over gRPC against
0.80 ms and 0.76 ms through etcd's JSON gateway (a grpc-gateway that decodes
the JSON and makes the same gRPC call in-process), a put 1.1 against 1.3 ms of
etcd CPU. The price is in this process: a grpc.aio call costs ~0.1 ms more
of our CPU than an aiohttp POST did at one caller, and a watch event ~0.15 ms
more (docs/metadata.md has bench/etcd_client.py's table). The messages are
the part of etcd's rpc.proto we use (proto/etcd/), generated like ours.

Why not aetcd: it takes one endpoint and one client-wide timeout; here every
call gets the caller's deadline and fails over between the members'
endpoints, which is what the metadata replicas need when a member dies, hangs
or is cut off. Endpoints are the members' client URLs (``http://host:2379``);
the gRPC API is served on the same port as the HTTP endpoints (/health stays
HTTP). One channel per endpoint, opened on first use, closed by close().

Every call but a serializable range carries etcd's require-leader metadata
(``hasleader``), so a member that has lost its leader refuses at once
(UNAVAILABLE) instead of timing out, and ends a watch it serves a few
election timeouts after losing the leader.

Invariants:
- no call outlives its ``timeout``; an endpoint that does not answer within
  ``ATTEMPT_SECONDS_MAX`` is abandoned for the next one, so one hung member
  costs an attempt, not the whole deadline;
- a write that timed out may still have been applied by etcd (callers make
  every write idempotent: log entries carry request ids, puts are upserts);
- ranges are linearizable (etcd's default: served through the leader's read
  index), never serializable, unless the caller asks;
- etcd's refusals (a compacted or future revision, an unknown lease, a request
  too large) raise at once; anything else (no leader, a timeout, a dead or
  unreachable member) is retried on the next member until the deadline, then
  raises EtcdUnavailable.
"""

# ruff: noqa: ASYNC109  (timeout is each call's deadline, by design)

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from proto.etcd import kv_pb2, rpc_pb2, rpc_pb2_grpc
from tessera import limits

log = logging.getLogger(__name__)

ATTEMPT_SECONDS_MAX = 2.0
RETRY_BACKOFF_FIRST_SECONDS = 0.05
RETRY_BACKOFF_MAX_SECONDS = 0.5

# etcd's interceptor refuses a call carrying this when its member has no leader.
REQUIRE_LEADER: tuple[tuple[str, str], ...] = (("hasleader", "true"),)

# A log entry is at most 1 MiB (metadata/shared_log.py) and etcd cuts watch
# responses into fragments of at most --max-request-bytes (1.5 MiB by
# default) or one event, so the project's gRPC message limit leaves room.
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    ("grpc.max_receive_message_length", limits.GRPC_MESSAGE_MAX_BYTES),
    # Pings only while a call is open (a watch): etcd's keepalive policy
    # (5 s minimum, none without a stream) answers idle pings with GOAWAY.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]

# Status codes etcd uses for answers that another member would give too.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,  # request too large, empty key ...
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,  # compacted or future revision
        grpc.StatusCode.NOT_FOUND,  # unknown lease
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)


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


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """What one member says of itself (etcd's StatusResponse)."""

    member_id: int
    leader_id: int  # 0: the member knows no leader
    db_size_bytes: int
    raft_index: int
    raft_term: int
    version: str


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix"."""
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes([trimmed[-1] + 1]) if trimmed else b"\x00"


def grpc_target(endpoint: str) -> tuple[str, bool]:
    """(the gRPC target host:port, whether it uses TLS) of a member's client URL."""
    if "://" not in endpoint:
        return endpoint, False
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"etcd endpoint {endpoint!r}: expected http://host:port")
    return url.netloc, url.scheme == "https"


def _kv(raw: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(
        key=raw.key,
        value=raw.value,
        create_revision=raw.create_revision,
        mod_revision=raw.mod_revision,
        version=raw.version,
        lease=raw.lease,
    )


def _refusal(exc: grpc.aio.AioRpcError) -> EtcdError | None:
    """The error etcd's answer stands for, or None when another member may do better."""
    if exc.code() not in _REFUSALS:
        return None
    details = exc.details() or exc.code().name
    if "compacted" in details:
        return EtcdCompacted(0)
    return EtcdError(details)


def _watch_batch(message: rpc_pb2.WatchResponse) -> tuple[int, list[WatchEvent]] | None:
    """(revision, events) of one watch response; None when it carries no events."""
    if message.compact_revision:
        raise EtcdCompacted(message.compact_revision)
    if message.canceled:
        raise EtcdUnavailable(f"watch canceled: {message.cancel_reason}")
    if not message.events:
        return None
    events = [
        WatchEvent(kind=kv_pb2.Event.EventType.Name(e.type), kv=_kv(e.kv)) for e in message.events
    ]
    return message.header.revision, events


class _Member:
    """The channel and stubs of one endpoint."""

    def __init__(self, endpoint: str) -> None:
        target, tls = grpc_target(endpoint)
        if tls:
            credentials = grpc.ssl_channel_credentials()
            self.channel = grpc.aio.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
        else:
            self.channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)


Reply = TypeVar("Reply")
Attempt = Callable[[_Member, float], Awaitable[Reply]]


class EtcdClient:
    """Calls to one etcd cluster, failing over between its members' endpoints."""

    def __init__(self, endpoints: Sequence[str]) -> None:
        assert endpoints, "at least one etcd endpoint"
        self.endpoints = [e.rstrip("/") for e in endpoints]
        for endpoint in self.endpoints:
            grpc_target(endpoint)  # a malformed endpoint fails here, not on first use
        self._preferred = 0
        self._members: dict[str, _Member] = {}

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        members, self._members = self._members, {}
        for member in members.values():
            await member.channel.close(None)

    def _member(self, endpoint: str) -> _Member:
        member = self._members.get(endpoint)
        if member is None:
            member = self._members[endpoint] = _Member(endpoint)
        return member

    @property
    def preferred_endpoint(self) -> str:
        return self.endpoints[self._preferred % len(self.endpoints)]

    async def prefer_leader(self, *, timeout: float) -> bool:
        """Makes the leader's endpoint the preferred one, if a member answers
        that it leads; returns whether the preferred endpoint is the leader's.

        A follower forwards what it is asked to the leader: measured here, a
        linearizable range cost 0.9 ms through a follower against 0.6 ms at
        the leader, a put 1.5 against 1.1 ms, and 25-40 % more etcd CPU per
        call. Which member answers never changes a result, only its cost;
        failover (demote) still moves on from a member that fails."""
        count = len(self.endpoints)
        for offset in range(count):
            index = (self._preferred + offset) % count
            endpoint = self.endpoints[index]
            try:
                reply = await self._member(endpoint).maintenance.Status(
                    rpc_pb2.StatusRequest(), timeout=min(timeout, ATTEMPT_SECONDS_MAX)
                )
            except grpc.aio.AioRpcError as exc:
                log.debug("etcd status on %s: %s", endpoint, exc.code().name)
                continue
            if reply.leader and reply.leader == reply.header.member_id:
                if index != self._preferred % count:
                    log.info("etcd: preferring the leader at %s", endpoint)
                self._preferred = index
                return True
        return False

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
        request = rpc_pb2.RangeRequest(
            key=key,
            range_end=range_end or b"",
            revision=revision,
            keys_only=keys_only,
            limit=limit,
            serializable=serializable,
        )
        metadata = () if serializable else REQUIRE_LEADER
        reply = await self._call(
            "Range",
            lambda m, t: m.kv.Range(request, timeout=t, metadata=metadata),
            timeout,
        )
        return RangeResult(reply.header.revision, tuple(_kv(kv) for kv in reply.kvs))

    async def get(self, key: bytes, *, timeout: float) -> tuple[int, KeyValue | None]:
        """(the store's revision, the key's current value or None)."""
        got = await self.range(key, timeout=timeout)
        return got.revision, got.kvs[0] if got.kvs else None

    async def put(self, key: bytes, value: bytes, *, timeout: float, lease: int = 0) -> int:
        """Writes key; returns the revision the write created."""
        request = rpc_pb2.PutRequest(key=key, value=value, lease=lease)
        reply = await self._call(
            "Put", lambda m, t: m.kv.Put(request, timeout=t, metadata=REQUIRE_LEADER), timeout
        )
        return reply.header.revision

    async def put_if_absent(
        self, key: bytes, value: bytes, *, timeout: float, lease: int = 0
    ) -> tuple[bool, KeyValue | None]:
        """Creates key only if it does not exist (one transaction); returns
        (created, the key's current value when it was not created)."""
        request = rpc_pb2.TxnRequest(
            compare=[
                rpc_pb2.Compare(
                    key=key,
                    result=rpc_pb2.Compare.EQUAL,
                    target=rpc_pb2.Compare.CREATE,
                    create_revision=0,
                )
            ],
            success=[
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, lease=lease))
            ],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))],
        )
        reply = await self._call(
            "Txn", lambda m, t: m.kv.Txn(request, timeout=t, metadata=REQUIRE_LEADER), timeout
        )
        if reply.succeeded:
            return True, None
        for response in reply.responses:
            if response.HasField("response_range") and response.response_range.kvs:
                return False, _kv(response.response_range.kvs[0])
        return False, None

    async def delete(self, key: bytes, *, timeout: float) -> int:
        request = rpc_pb2.DeleteRangeRequest(key=key)
        reply = await self._call(
            "DeleteRange",
            lambda m, t: m.kv.DeleteRange(request, timeout=t, metadata=REQUIRE_LEADER),
            timeout,
        )
        return reply.header.revision

    async def compact(self, revision: int, *, timeout: float) -> None:
        """Drops history older than revision; a revision already compacted is fine."""
        request = rpc_pb2.CompactionRequest(revision=revision)
        try:
            await self._call(
                "Compact",
                lambda m, t: m.kv.Compact(request, timeout=t, metadata=REQUIRE_LEADER),
                timeout,
            )
        except EtcdCompacted:
            pass

    async def status(self, *, timeout: float) -> MemberStatus:
        """The status of the member that answered (the preferred one if it can)."""
        reply = await self._call(
            "Status",
            lambda m, t: m.maintenance.Status(rpc_pb2.StatusRequest(), timeout=t),
            timeout,
        )
        return MemberStatus(
            member_id=reply.header.member_id,
            leader_id=reply.leader,
            db_size_bytes=reply.dbSize,
            raft_index=reply.raftIndex,
            raft_term=reply.raftTerm,
            version=reply.version,
        )

    # ------------------------------------------------------------ leases

    async def lease_grant(self, ttl_seconds: int, *, timeout: float) -> int:
        request = rpc_pb2.LeaseGrantRequest(TTL=ttl_seconds)
        reply = await self._call(
            "LeaseGrant",
            lambda m, t: m.lease.LeaseGrant(request, timeout=t, metadata=REQUIRE_LEADER),
            timeout,
        )
        if reply.error:
            raise EtcdError(reply.error)
        return reply.ID

    async def lease_keepalive(self, lease_id: int, *, timeout: float) -> int:
        """Refreshes a lease; returns its TTL (0: the lease has expired or never existed)."""
        request = rpc_pb2.LeaseKeepAliveRequest(ID=lease_id)

        async def once(member: _Member, attempt: float) -> rpc_pb2.LeaseKeepAliveResponse:
            # etcd's keepalive is a stream; one request, one answer, then hang up.
            call = member.lease.LeaseKeepAlive(timeout=attempt, metadata=REQUIRE_LEADER)
            try:
                await call.write(request)
                reply = await call.read()
            finally:
                call.cancel()
            if reply is grpc.aio.EOF:  # type: ignore[attr-defined]
                raise EtcdUnavailable("lease keepalive stream ended without an answer")
            assert isinstance(reply, rpc_pb2.LeaseKeepAliveResponse)
            return reply

        return (await self._call("LeaseKeepAlive", once, timeout)).TTL

    async def lease_revoke(self, lease_id: int, *, timeout: float) -> None:
        """Revokes a lease (its keys are deleted); an unknown lease is fine."""
        request = rpc_pb2.LeaseRevokeRequest(ID=lease_id)
        try:
            await self._call(
                "LeaseRevoke",
                lambda m, t: m.lease.LeaseRevoke(request, timeout=t, metadata=REQUIRE_LEADER),
                timeout,
            )
        except EtcdError as exc:
            if "not found" not in str(exc) or isinstance(exc, EtcdUnavailable):
                raise

    # ------------------------------------------------------------ watch

    async def watch(
        self, key: bytes, start_revision: int, *, connect_timeout: float
    ) -> AsyncIterator[tuple[int, list[WatchEvent]]]:
        """Yields (revision, events) batches for key from start_revision on, in
        revision order, from the preferred endpoint, until the caller stops.
        A revision larger than etcd's request limit may come as several batches
        (etcd's fragments): callers apply events, not batches, atomically.

        Raises EtcdCompacted when start_revision is already compacted, and
        EtcdUnavailable when the stream cannot be opened within connect_timeout
        or breaks (the member lost its leader, died or was cut off). A member
        cut off in a way its keepalive does not notice may simply go quiet:
        callers watch for stalls.
        """
        endpoint = self.preferred_endpoint
        create = rpc_pb2.WatchCreateRequest(key=key, start_revision=start_revision, fragment=True)
        call = self._member(endpoint).watch.Watch(metadata=REQUIRE_LEADER)
        try:
            try:
                async with asyncio.timeout(connect_timeout):
                    await call.write(rpc_pb2.WatchRequest(create_request=create))
                    message = await call.read()
            except TimeoutError:
                self.demote(endpoint)
                raise EtcdUnavailable(
                    f"watch on {endpoint}: not created within {connect_timeout}s"
                ) from None
            while message is not grpc.aio.EOF:  # type: ignore[attr-defined]
                assert isinstance(message, rpc_pb2.WatchResponse)
                batch = _watch_batch(message)
                if batch is not None:
                    yield batch
                message = await call.read()
        except grpc.aio.AioRpcError as exc:
            refused = _refusal(exc)
            if refused is not None:
                raise refused from exc
            self.demote(endpoint)
            raise EtcdUnavailable(
                f"watch on {endpoint}: {exc.code().name} {exc.details()}"
            ) from exc
        finally:
            call.cancel()
        self.demote(endpoint)
        raise EtcdUnavailable(f"watch on {endpoint} ended")

    # ------------------------------------------------------------ transport

    async def _call(self, name: str, attempt: Attempt[Reply], timeout: float) -> Reply:
        """attempt(member, seconds) on the preferred member, then the next ones,
        until one answers, etcd refuses, or the deadline passes."""
        deadline = time.monotonic() + timeout
        backoff = RETRY_BACKOFF_FIRST_SECONDS
        last = "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EtcdUnavailable(f"etcd {name}: out of time ({last})")
            endpoint = self.preferred_endpoint
            try:
                return await attempt(self._member(endpoint), min(remaining, ATTEMPT_SECONDS_MAX))
            except grpc.aio.AioRpcError as exc:
                refused = _refusal(exc)
                if refused is not None:
                    raise refused from exc
                last = f"{endpoint}: {exc.code().name} {exc.details()}"
            except EtcdUnavailable as exc:
                last = f"{endpoint}: {exc}"
            # No leader, a timeout, a dead member: try the next member.
            log.debug("etcd %s failed on %s", name, last)
            self.demote(endpoint)
            await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, RETRY_BACKOFF_MAX_SECONDS)
