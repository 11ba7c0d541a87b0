"""Record leases (metadata/record_leases.py, metadata/leased_records.py): a
gateway answers GetObject from its records only under a lease from the
read-lease holder, drops a record before the holder writes its change, and
a write waits for that (or for the lease to end).

The gateway side runs over real gRPC against a small servicer whose
RecordLeases is the real one and whose GetObject reads a dictionary that
the test changes the way the follower does: before_commit first, then the
write."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import grpc.aio
import pytest

from metadata import keys, leased_records, metrics
from metadata.client import MetadataClient
from metadata.leased_records import LOOKUPS, LeasedRecords
from metadata.mutations import DeleteObject
from metadata.read_lease import CLOCK_MARGIN_SECONDS, CLOCK_RATE, ReadLeases
from metadata.record_leases import (
    LEASE_SECONDS_MAX,
    QUEUE_MAX,
    RecordLeases,
    grantable,
)
from proto import convert
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.rpc import new_server
from tessera import errors
from tessera.model import ObjectVersion

SECRET = "s3cret"
CALL_SECONDS = 5.0


def version(key: str, etag: str) -> ObjectVersion:
    return ObjectVersion(
        bucket="bkt", key=key, version_id="v" + etag, size_bytes=1, etag=etag,
        content_type="", last_modified=1.0, data_shards=0, parity_shards=0,
        chunk_size_bytes=0, placement=(), inline_data=b"x",
    )  # fmt: skip


class HeldLease:
    """The replica's read lease, held (or not) as the test says."""

    def __init__(self, held: bool = True, left: float = 2.0) -> None:
        self.held = held
        self.left = left
        self.noted = 0

    def own_valid(self) -> bool:
        return self.held

    def own_remaining(self) -> float:
        return self.left if self.held else 0.0

    def note_reads(self, count: int) -> None:
        self.noted += count


class Replica(pb_grpc.MetadataServicer):
    """GetObject from a dictionary; RecordLeases the real one."""

    def __init__(self, lease: HeldLease) -> None:
        self.records: dict[str, ObjectVersion] = {}
        self.revision = 1
        self.grants = RecordLeases(lease)  # type: ignore[arg-type]
        self.gets = 0
        self.read_revision_lag = 0  # answer as if read this many revisions ago
        self.wanted: list[bool] = []  # each PutObject's want_record

    async def write(self, record: ObjectVersion, batch_id: str = "") -> None:
        """What the follower does with a batch writing this record."""
        revision = self.revision + 1
        await self.grants.before_commit(
            revision, [keys.object_key(record.bucket, record.key)], [batch_id] if batch_id else []
        )
        self.records[record.key] = record
        self.revision = revision

    async def GetObject(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        self.gets += 1
        found = self.records.get(request.key)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such key")
        assert found is not None
        reply = convert.version_to_pb(found)
        reply.read_revision = self.revision - self.read_revision_lag
        return reply

    async def PutObject(self, request: pb.PutObjectRequest, context: Any) -> pb.PutObjectResponse:
        self.wanted.append(request.want_record)
        record = convert.version_from_pb(request.version)
        await self.write(record)
        reply = pb.PutObjectResponse(has_replaced=False)
        if request.want_record:
            reply.stored_revision = self.revision
        return reply

    async def RecordLeases(
        self, requests: AsyncIterator[pb.RecordLeaseRequest], context: Any
    ) -> AsyncIterator[pb.RecordLeaseNotice]:
        async for notice in self.grants.serve(requests, asyncio.Event()):
            yield notice


async def serving(lease: HeldLease) -> tuple[Replica, grpc.aio.Server, str]:
    replica = Replica(lease)
    server = new_server(SECRET)
    pb_grpc.add_MetadataServicer_to_server(replica, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return replica, server, f"127.0.0.1:{port}"


def hits() -> float:
    return LOOKUPS.labels("hit")._value.get()


async def until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def get(client: MetadataClient, key: str) -> str:
    return (await client.get_object("bkt", key, timeout=CALL_SECONDS)).etag


@contextlib.asynccontextmanager
async def with_client(
    lease: HeldLease | None = None,
) -> AsyncIterator[tuple[Replica, MetadataClient, LeasedRecords]]:
    """A replica keeping "k" ("one") and a client keeping records from it.
    The client makes unary calls: the replica has no Calls stream, and a
    client meeting one sometimes sees the stream end INTERNAL ("Internal
    error from Core") instead of UNIMPLEMENTED, and fails that call instead
    of falling back (seen once in CI)."""
    replica, server, address = await serving(lease or HeldLease())
    try:
        replica.records["k"] = version("k", "one")
        async with MetadataClient(
            address, SECRET, record_lease_bytes=1 << 20, streams=False
        ) as client:
            assert client.records is not None
            yield replica, client, client.records
    finally:
        await server.stop(None)


async def test_records_answer_under_a_lease_and_a_write_drops_them_first() -> None:
    async with with_client() as (replica, client, records):
        assert await get(client, "k") == "one"  # opens the stream, asks
        await until(lambda: records._session > 0)
        before_hits = hits()
        deadline = time.monotonic() + 5
        while hits() == before_hits:  # the grant and the record arrive
            assert time.monotonic() < deadline
            assert await get(client, "k") == "one"
            await asyncio.sleep(0.01)
        gets = replica.gets
        for _ in range(20):
            assert await get(client, "k") == "one"
        assert replica.gets == gets  # all twenty from the record
        await replica.write(version("k", "two"))
        # before_commit returned: the gateway had dropped the record
        assert keys.object_key("bkt", "k") not in records._records
        assert await get(client, "k") == "two"
        assert replica.gets == gets + 1


async def test_a_stream_opened_after_an_idle_close_acknowledges_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leased_records, "IDLE_SECONDS", 0.3)
    # the lease is kept while the writes come (not given back for want of lookups)
    monkeypatch.setattr(leased_records, "RELEASE_ON_WRITE_SECONDS", 60.0)
    monkeypatch.setattr(leased_records, "RELEASE_IDLE_SECONDS", 60.0)
    waited_out = metrics.RECORD_LEASE_WAITED_OUT._value.get()
    async with with_client() as (replica, client, records):
        for _ in range(2):  # the second stream opens after the first closed
            assert await get(client, "k") != ""
            await until(lambda: records._lease_until > time.monotonic())
            for n in range(20):  # invalidations numbered past the next stream's first
                await replica.write(version(f"w{n}", "x"))
            await until(lambda: records._session == 0)  # closed after the idle time
    assert metrics.RECORD_LEASE_WAITED_OUT._value.get() == waited_out  # every write acknowledged


async def test_no_read_lease_no_answers_from_records_and_asking_counts_as_reads() -> None:
    lease = HeldLease(held=False)
    async with with_client(lease) as (replica, client, _):
        for _ in range(30):
            assert await get(client, "k") == "one"
            await asyncio.sleep(0.01)
        assert replica.gets == 30
        assert lease.noted > 0  # the replica is told to take its read lease


async def test_a_record_read_before_an_invalidation_it_missed_is_not_kept() -> None:
    async with with_client() as (replica, client, records):
        assert await get(client, "k") == "one"
        await until(lambda: records._session > 0)
        await replica.write(version("other", "x"))  # an invalidation at revision 2
        replica.read_revision_lag = 1  # answers now claim to be read at revision 1
        for _ in range(10):
            assert await get(client, "k") == "one"
        assert keys.object_key("bkt", "k") not in records._records
        assert replica.gets == 11


async def test_a_write_waits_out_a_gateway_that_does_not_acknowledge() -> None:
    grants = RecordLeases(HeldLease())  # type: ignore[arg-type]
    asks: asyncio.Queue[pb.RecordLeaseRequest] = asyncio.Queue()

    async def requests() -> AsyncIterator[pb.RecordLeaseRequest]:
        while True:
            yield await asks.get()

    notices: list[pb.RecordLeaseNotice] = []

    async def gateway() -> None:
        async for notice in grants.serve(requests(), asyncio.Event()):
            notices.append(notice)

    stream = asyncio.create_task(gateway())
    try:
        await until(lambda: notices)  # the first notice: nothing read before now is kept
        assert notices[0].everything and notices[0].invalidation == 1
        await asks.put(pb.RecordLeaseRequest(ask=1, acked=1))
        await until(lambda: any(n.granted for n in notices))
        grant = next(n for n in notices if n.granted)
        assert grant.duration_seconds == pytest.approx(LEASE_SECONDS_MAX)
        waited_out = metrics.RECORD_LEASE_WAITED_OUT._value.get()
        started = time.monotonic()
        await grants.before_commit(5, [b"a-key"])  # never acknowledged
        assert time.monotonic() - started > LEASE_SECONDS_MAX * 0.9  # not before it ended
        assert metrics.RECORD_LEASE_WAITED_OUT._value.get() == waited_out + 1
        invalidation = notices[-1]
        assert list(invalidation.state_keys) == [b"a-key"] and invalidation.revision == 5
        # acknowledged at once: the next write does not wait
        await asks.put(pb.RecordLeaseRequest(ask=2))
        await until(lambda: sum(1 for n in notices if n.granted) == 2)
        write = asyncio.create_task(grants.before_commit(6, [b"b-key"]))
        await until(lambda: notices[-1].revision == 6)
        await asyncio.sleep(0.05)
        assert not write.done()  # waiting for the acknowledgement
        await asks.put(pb.RecordLeaseRequest(acked=notices[-1].invalidation))
        await asyncio.wait_for(write, 0.5)
    finally:
        stream.cancel()


async def test_a_stream_that_ended_is_still_waited_out_while_its_lease_may_run() -> None:
    grants = RecordLeases(HeldLease())  # type: ignore[arg-type]

    async def requests() -> AsyncIterator[pb.RecordLeaseRequest]:
        yield pb.RecordLeaseRequest(ask=1)

    async for _ in grants.serve(requests(), asyncio.Event()):
        pass  # the gateway's side ends after its ask
    assert grants.subscribers == 0
    started = time.monotonic()
    await grants.before_commit(3, [b"k"])
    assert time.monotonic() - started > LEASE_SECONDS_MAX * 0.9


async def test_a_new_stream_keeps_nothing_read_before_the_last_announced_batch() -> None:
    grants = RecordLeases(HeldLease())  # type: ignore[arg-type]
    await grants.before_commit(41, [b"k"])  # no stream yet: nothing to wait for

    async def requests() -> AsyncIterator[pb.RecordLeaseRequest]:
        await asyncio.sleep(3600)
        yield pb.RecordLeaseRequest()

    stream = grants.serve(requests(), asyncio.Event())
    first = await anext(stream)
    assert first.everything and first.revision == 41
    await stream.aclose()  # type: ignore[attr-defined]


def test_a_grant_ends_inside_the_read_lease() -> None:
    for left in (0.06, 0.3, 0.9, 1.2, 2.0):
        duration = grantable(left)
        assert duration <= LEASE_SECONDS_MAX
        if duration:
            assert duration * CLOCK_RATE + CLOCK_MARGIN_SECONDS <= left + 1e-9
    assert grantable(0.05) == 0.0


async def test_a_gateway_far_behind_has_its_stream_ended_and_is_waited_out() -> None:
    grants = RecordLeases(HeldLease())  # type: ignore[arg-type]
    asks: asyncio.Queue[pb.RecordLeaseRequest] = asyncio.Queue()

    async def requests() -> AsyncIterator[pb.RecordLeaseRequest]:
        yield pb.RecordLeaseRequest(ask=1)
        while True:
            yield await asks.get()

    stream = grants.serve(requests(), asyncio.Event())
    assert (await anext(stream)).everything
    assert (await anext(stream)).granted == 1
    for revision in range(2, QUEUE_MAX + 10):  # never read by the gateway
        grants.announce_early(f"b{revision}", [DeleteObject("r", "bkt", f"k{revision}")])
    assert [notice async for notice in stream] == []  # it ends, the queue unsent
    assert grants.subscribers == 0
    started = time.monotonic()
    await grants.before_commit(QUEUE_MAX + 20, [b"k"])  # its lease is waited out
    assert time.monotonic() - started > LEASE_SECONDS_MAX * 0.9


def test_read_leases_count_reads_from_elsewhere() -> None:
    nothing: Any = None
    leases = ReadLeases("r1", "a", 2.0, ask_applied=nothing, read_index=nothing)
    leases.note_reads(8)
    assert leases.wanted()


async def test_errors_still_reach_the_caller_with_records_on() -> None:
    async with with_client() as (_, client, _records):
        with pytest.raises(errors.TesseraError):
            await client.get_object("bkt", "absent", timeout=CALL_SECONDS)


class Stream:
    """A gateway's RecordLeases stream driven by hand: what it sends, what it got."""

    def __init__(self, grants: RecordLeases) -> None:
        self.asks: asyncio.Queue[pb.RecordLeaseRequest] = asyncio.Queue()
        self.notices: list[pb.RecordLeaseNotice] = []
        self.task = asyncio.create_task(self._run(grants))

    async def _requests(self) -> AsyncIterator[pb.RecordLeaseRequest]:
        while True:
            yield await self.asks.get()

    async def _run(self, grants: RecordLeases) -> None:
        async for notice in grants.serve(self._requests(), asyncio.Event()):
            self.notices.append(notice)

    async def leased(self) -> None:
        await until(lambda: self.notices)
        await self.asks.put(pb.RecordLeaseRequest(ask=1, acked=1))
        await until(lambda: any(n.granted for n in self.notices))


def delete(key: str) -> DeleteObject:
    return DeleteObject("r", "bkt", key)


@contextlib.asynccontextmanager
async def leased_stream() -> AsyncIterator[tuple[RecordLeases, Stream]]:
    """A replica's record leases and one gateway stream holding a lease."""
    grants = RecordLeases(HeldLease())  # type: ignore[arg-type]
    stream = Stream(grants)
    try:
        await stream.leased()
        yield grants, stream
    finally:
        stream.task.cancel()


async def test_an_acknowledged_early_notice_naming_every_record_spares_the_write_its_wait() -> None:
    async with leased_stream() as (grants, stream):
        grants.announce_early("batch-1", [delete("k")])
        await until(lambda: stream.notices[-1].pending)
        early = stream.notices[-1]
        assert list(early.state_keys) == [keys.object_key("bkt", "k")] and not early.revision
        await stream.asks.put(pb.RecordLeaseRequest(acked=early.invalidation))
        await until(lambda: grants._subscribers and next(iter(grants._subscribers)).acked > 1)
        # applied: the batch's own notice goes out, resolving the early one,
        # and the write does not wait for its acknowledgement
        await asyncio.wait_for(
            grants.before_commit(7, [keys.object_key("bkt", "k")], ["batch-1"]), 0.2
        )
        await until(lambda: stream.notices[-1].revision == 7)
        assert list(stream.notices[-1].resolves) == [early.invalidation]
        # a batch writing a record its early notice did not name waits as before
        grants.announce_early("batch-2", [delete("k")])
        await until(lambda: stream.notices[-1].pending)
        await stream.asks.put(pb.RecordLeaseRequest(acked=stream.notices[-1].invalidation))
        written = [keys.object_key("bkt", "k"), keys.object_key("bkt", "other")]
        write = asyncio.create_task(grants.before_commit(8, written, ["batch-2"]))
        await until(lambda: stream.notices[-1].revision == 8)
        await asyncio.sleep(0.05)
        assert not write.done()
        await stream.asks.put(pb.RecordLeaseRequest(acked=stream.notices[-1].invalidation))
        await asyncio.wait_for(write, 0.5)


async def test_a_failed_append_resolves_its_early_notice() -> None:
    async with leased_stream() as (grants, stream):
        grants.announce_early("batch-1", [delete("k")])
        await until(lambda: stream.notices[-1].pending)
        number = stream.notices[-1].invalidation
        grants.not_appended("batch-1")
        await until(lambda: list(stream.notices[-1].resolves) == [number])
        assert not grants._early


@contextlib.asynccontextmanager
async def streaming(
    keep: bool = True,
) -> AsyncIterator[tuple[Replica, MetadataClient, LeasedRecords]]:
    """with_client, once the client holds a lease; keep: it keeps it (else
    it gives it back once lookups stop)."""
    forever = 60.0 if keep else None
    with (
        mock.patch.object(
            leased_records, "RELEASE_IDLE_SECONDS", forever or leased_records.RELEASE_IDLE_SECONDS
        ),
        mock.patch.object(
            leased_records,
            "RELEASE_ON_WRITE_SECONDS",
            forever or leased_records.RELEASE_ON_WRITE_SECONDS,
        ),
    ):
        async with with_client() as (replica, client, records):
            assert await get(client, "k") == "one"
            await until(lambda: records._session > 0 and records._invalidated_through < 1e9)
            await until(lambda: records._lease_until > time.monotonic())
            yield replica, client, records


async def test_a_gateway_keeps_no_record_an_unresolved_early_notice_names() -> None:
    async with streaming() as (replica, client, records):
        replica.grants.announce_early("batch-1", [delete("k")])
        await until(lambda: records._held)
        for _ in range(5):
            assert await get(client, "k") == "one"
        assert keys.object_key("bkt", "k") not in records._records  # held: not kept
        await replica.write(version("k", "two"), batch_id="batch-1")
        await until(lambda: not records._held)
        assert await get(client, "k") == "two"
        assert keys.object_key("bkt", "k") in records._records


async def test_a_fill_held_back_by_an_early_notice_is_kept_once_that_is_resolved() -> None:
    async with streaming() as (replica, _, records):
        replica.grants.announce_early("batch-1", [delete("k")])
        await until(lambda: records._held)
        # a PUT's answer (its record read back at revision 5) before the
        # batch's own notice: held back, not dropped
        records.fill(records.ticket(), version("k", "two"), 5)
        assert keys.object_key("bkt", "k") not in records._records
        await replica.grants.before_commit(5, [keys.object_key("bkt", "k")], ["batch-1"])
        await until(lambda: not records._held)
        assert records._records[keys.object_key("bkt", "k")][0].etag == "two"
        # one read back before the batch's revision is not kept
        replica.grants.announce_early("batch-2", [delete("k")])
        await until(lambda: records._held)
        records.fill(records.ticket(), version("k", "three"), 5)
        await replica.grants.before_commit(6, [keys.object_key("bkt", "k")], ["batch-2"])
        await until(lambda: not records._held)
        assert keys.object_key("bkt", "k") not in records._records


async def test_a_gateway_that_stops_looking_up_gives_its_lease_back() -> None:
    async with streaming(keep=False) as (replica, client, records):
        deadline = time.monotonic() + 5
        while records._lease_until <= time.monotonic():  # lookups get it a lease
            assert time.monotonic() < deadline
            assert await get(client, "k") == "one"
            await asyncio.sleep(0.01)
        (subscriber,) = replica.grants._subscribers
        assert subscriber.lease_until > time.monotonic()
        await until(lambda: subscriber.released)  # no lookup for a while
        assert records._lease_until < time.monotonic()  # it answers from no record first
        assert subscriber.lease_until == 0.0
        gets = replica.gets
        assert await get(client, "k") == "one"  # asked again; a lease is asked again
        assert replica.gets == gets + 1
        await until(lambda: not subscriber.released)  # granted again


async def test_a_write_after_lookups_stopped_has_the_lease_given_back_at_once() -> None:
    with mock.patch.object(leased_records, "RELEASE_IDLE_SECONDS", 60.0):
        async with streaming(keep=False) as (replica, _, records):
            (subscriber,) = replica.grants._subscribers
            await asyncio.sleep(0.05)  # no lookup since
            assert not subscriber.released
            waited_out = metrics.RECORD_LEASE_WAITED_OUT._value.get()
            await replica.write(version("w", "x"))
            await until(lambda: subscriber.released)
            assert metrics.RECORD_LEASE_WAITED_OUT._value.get() == waited_out
            assert records._lease_until < time.monotonic()


async def test_a_stream_at_its_deadline_is_opened_again_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leased_records, "STREAM_SECONDS", 0.5)
    async with with_client() as (_, client, records):
        assert await get(client, "k") == "one"
        await until(lambda: records._session > 0)
        first = records._session
        await until(lambda: records._session != first)  # its deadline passed
        assert await get(client, "k") == "one"
        await until(lambda: records._session > first)  # a new one, without a backoff


async def test_a_put_asks_its_record_back_only_when_stored_as_sent() -> None:
    async with with_client() as (replica, client, _):
        assert await get(client, "k") == "one"  # the stream is open
        await client.put_object(version("k", "two"), timeout=CALL_SECONDS)
        assert await get(client, "k") == "two"
        # a versioned or Object Lock bucket: the replica stores it changed
        await client.put_object(version("k", "three"), timeout=CALL_SECONDS, keep=False)
        assert await get(client, "k") == "three"
        assert replica.wanted == [True, False]
