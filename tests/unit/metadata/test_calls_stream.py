"""Metadata calls over one stream per replica (proto/metadata_calls.py): the
real servicer on loopback gRPC servers, called through MetadataClient with
the streams on (and off), and through a raw Calls stream for what a client
of ours never sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client import REGISTRY

from metadata.client import MetadataClient
from metadata.commit import CommitLog
from metadata.liveness import LocalLiveness
from metadata.service import LocalLivenessSource, MetadataService, add_to_server
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from proto.call_stream import PACK_TURNS
from proto.metadata_calls import METHODS
from proto.rpc import call_metadata, new_channel, new_server
from proto.tessera_pb2_grpc import MetadataServicer
from tessera import errors

SECRET = "s3cret"
TIMEOUT = 5.0

pytestmark = pytest.mark.usefixtures("loop_watchdog")


class Counting(MetadataService):
    """The real servicer, counting what reaches it over Calls and as unary
    calls; GetBucket of "slow" waits until released (or cancelled)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams = 0
        self.messages = 0
        self.streamed: list[str] = []
        self.slow_arrived = asyncio.Event()
        self.slow_cancelled = asyncio.Event()
        self.release = asyncio.Event()

    async def Calls(
        self, requests: AsyncIterator[pb.CallRequests], context: Any
    ) -> AsyncIterator[pb.CallAnswers]:
        self.streams += 1

        async def counted() -> AsyncIterator[pb.CallRequests]:
            async for message in requests:
                self.messages += 1
                self.streamed.extend(request.method for request in message.calls)
                yield message

        async for answer in super().Calls(counted(), context):
            yield answer

    async def GetBucket(self, request: pb.BucketName, context: Any) -> pb.BucketRecord:
        if request.name == "slow":
            self.slow_arrived.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.slow_cancelled.set()
                raise
        reply: pb.BucketRecord = await super().GetBucket(request, context)
        return reply


class Old(Counting):
    """A replica that predates Calls."""

    async def Calls(self, requests: Any, context: Any) -> AsyncIterator[pb.CallAnswers]:
        self.streams += 1
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        yield pb.CallAnswers()  # pragma: no cover - never reached


@asynccontextmanager
async def replicas(
    state: StateMachine, count: int = 1, servicer: type[Counting] = Counting
) -> AsyncIterator[tuple[list[str], list[Counting], list[grpc.aio.Server]]]:
    """count servicers on one state and log, each behind its own server."""
    reads = ThreadPoolExecutor(max_workers=2)
    async with CommitLog(state, window_seconds=0.001) as commit_log:
        liveness = LocalLivenessSource(LocalLiveness(10.0), lambda: 1_700_000_000.0)
        services = [servicer(state, commit_log, liveness, reads) for _ in range(count)]
        servers = []
        addresses = []
        for service in services:
            server = new_server(SECRET)
            add_to_server(service, server)
            addresses.append(f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}")
            await server.start()
            servers.append(server)
        try:
            yield addresses, services, servers
        finally:
            for server in servers:
                await server.stop(None)
    reads.shutdown(wait=True)


async def test_calls_go_over_one_stream_and_errors_keep_their_s3_code(
    state: StateMachine,
) -> None:
    async with replicas(state) as ([address], [service], _), MetadataClient(address, SECRET) as c:
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)
        assert (await c.get_bucket("photos", timeout=TIMEOUT)).owner == "alice"
        with pytest.raises(errors.BucketAlreadyExists):
            await c.create_bucket("photos", "bob", timeout=TIMEOUT)
        with pytest.raises(errors.NoSuchBucket):
            await c.get_bucket("music", timeout=TIMEOUT)
        with pytest.raises(errors.KeyTooLongError):
            await c.get_object("photos", "k" * 2000, timeout=TIMEOUT)
        assert service.streams == 1
        assert service.streamed == [
            "CreateBucket",
            "GetBucket",
            "CreateBucket",
            "GetBucket",
            "GetObject",
        ]


async def test_concurrent_calls_each_get_their_own_answer(state: StateMachine) -> None:
    async with replicas(state) as ([address], [service], _), MetadataClient(address, SECRET) as c:
        names = [f"bucket-{i:02d}" for i in range(40)]
        await asyncio.gather(*(c.create_bucket(n, f"owner-{n}", timeout=TIMEOUT) for n in names))
        found = await asyncio.gather(*(c.get_bucket(n, timeout=TIMEOUT) for n in names))
        assert [(b.name, b.owner) for b in found] == [(n, f"owner-{n}") for n in names]
        assert service.streams == 1 and len(service.streamed) == 80
        # calls made together share messages
        assert service.messages < len(service.streamed) / 4


def _calls_per_message(side: str) -> tuple[float, float]:
    """(messages, calls) the metadata streams' histogram counted so far, on one side."""
    labels = {"side": side}
    name = "tessera_metadata_stream_calls_per_message"
    count = REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0
    return count, REGISTRY.get_sample_value(f"{name}_sum", labels) or 0.0


async def test_callers_a_few_loop_turns_apart_share_one_message(state: StateMachine) -> None:
    """A burst's callers reach their call a turn or two apart (each request
    handler awaits something first): the writer's turns before packing let
    them all into one message, and the histogram counts it."""
    async with replicas(state) as ([address], [service], _), MetadataClient(address, SECRET) as c:
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)  # the stream is open

        async def caller(turns: int) -> str:
            for _ in range(turns):
                await asyncio.sleep(0)
            return (await c.get_bucket("photos", timeout=TIMEOUT)).owner

        assert PACK_TURNS > 2
        messages, calls = service.messages, len(service.streamed)
        sent_before = _calls_per_message("requests")
        answered_before = _calls_per_message("answers")
        owners = await asyncio.gather(*(caller(i % 3) for i in range(12)))
        assert owners == ["alice"] * 12
        assert (service.messages - messages, len(service.streamed) - calls) == (1, 12)
        sent = _calls_per_message("requests")
        assert (sent[0] - sent_before[0], sent[1] - sent_before[1]) == (1, 12)
        answered = _calls_per_message("answers")  # the replica's side, same process here
        assert answered[1] - answered_before[1] == 12


async def test_a_stopping_replica_ends_its_callers_streams_and_the_calls_go_on(
    state: StateMachine,
) -> None:
    """A replica that starts to stop (closing) ends the streams of its
    callers once it has answered what it took, so its graceful stop does not
    wait out the grace; the client's next calls go to the other replica."""
    async with (
        replicas(state, count=2) as (addresses, services, servers),
        MetadataClient(",".join(addresses), SECRET) as c,
    ):
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)  # a stream is open
        first = 0 if services[0].streams else 1
        services[first].closing.set()
        await asyncio.wait_for(servers[first].stop(60), 10)  # not the 60 s grace
        assert (await c.get_bucket("photos", timeout=TIMEOUT)).owner == "alice"
        assert services[1 - first].streamed[-1:] == ["GetBucket"]


async def test_streams_off_makes_unary_calls(state: StateMachine) -> None:
    async with (
        replicas(state) as ([address], [service], _),
        MetadataClient(address, SECRET, streams=False) as c,
    ):
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)
        with pytest.raises(errors.NoSuchBucket):
            await c.get_bucket("music", timeout=TIMEOUT)
        assert (service.streams, service.streamed) == (0, [])


async def test_a_replica_without_the_stream_is_asked_with_unary_calls(
    state: StateMachine,
) -> None:
    async with (
        replicas(state, servicer=Old) as ([address], [service], _),
        MetadataClient(address, SECRET) as c,
    ):
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)
        assert (await c.get_bucket("photos", timeout=TIMEOUT)).owner == "alice"
        with pytest.raises(errors.NoSuchBucket):
            await c.get_bucket("music", timeout=TIMEOUT)
        assert service.streams == 1  # asked once, then never again
        assert service.streamed == []


async def test_a_call_given_up_on_is_cancelled_on_the_replica_at_its_timeout(
    state: StateMachine,
) -> None:
    async with replicas(state) as ([address], [service], _), MetadataClient(address, SECRET) as c:
        with pytest.raises(errors.ServiceUnavailable):
            await c.get_bucket("slow", timeout=0.3)
        await asyncio.wait_for(service.slow_cancelled.wait(), TIMEOUT)
        # the stream goes on serving
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)
        assert service.streams == 1


async def test_a_call_waiting_on_a_stopping_replica_is_retried_on_the_next(
    state: StateMachine,
) -> None:
    async with (
        replicas(state, count=2) as (addresses, services, servers),
        MetadataClient(",".join(addresses), SECRET) as c,
    ):
        await c.create_bucket("slow", "alice", timeout=TIMEOUT)
        waiting = asyncio.ensure_future(c.get_bucket("slow", timeout=TIMEOUT))
        await asyncio.wait_for(services[0].slow_arrived.wait(), TIMEOUT)
        services[1].release.set()
        await servers[0].stop(None)  # its stream ends under the waiting call
        assert (await waiting).owner == "alice"
        assert services[1].streamed == ["GetBucket"]


async def _raw_answers(address: str, requests: list[pb.CallRequest]) -> list[pb.CallAnswer]:
    """The answers to requests sent over a Calls stream, one request a message."""
    async with new_channel(address) as channel:
        calls = channel.stream_stream(
            "/tessera.Metadata/Calls",
            request_serializer=pb.CallRequests.SerializeToString,
            response_deserializer=pb.CallAnswers.FromString,
        )
        messages = [pb.CallRequests(calls=[request]) for request in requests]
        stream = calls(iter(messages), metadata=call_metadata(SECRET), timeout=TIMEOUT)
        answers = [answer async for message in stream for answer in message.answers]
        return sorted(answers, key=lambda answer: answer.id)


async def test_what_a_request_cannot_name_or_carry_runs_nothing(state: StateMachine) -> None:
    async with replicas(state) as ([address], _, _):
        create = pb.CreateBucketRequest(name="photos", owner="alice", request_id="r1")
        answers = await _raw_answers(
            address,
            [
                pb.CallRequest(id=1, method="NoSuchMethod", request=b""),
                pb.CallRequest(id=2, method="FetchCheckpoint", request=b""),
                pb.CallRequest(id=3, method="Calls", request=b""),
                pb.CallRequest(id=4, method="CreateBucket", request=b"\xff\xff\xff"),
                pb.CallRequest(id=5, method="GetBucket", request=b"\x0a\x05music"),
                pb.CallRequest(id=6, method="CreateBucket", request=create.SerializeToString()),
                pb.CallRequest(
                    id=7, method="GetBucket", request=b"\x0a\x04slow", timeout_seconds=0.2
                ),
            ],
        )
        codes = [(a.id, a.code, a.s3_code) for a in answers]
        unimplemented = grpc.StatusCode.UNIMPLEMENTED.value[0]
        assert codes == [
            (1, unimplemented, ""),
            (2, unimplemented, ""),
            (3, unimplemented, ""),
            (4, grpc.StatusCode.INVALID_ARGUMENT.value[0], ""),
            (5, grpc.StatusCode.NOT_FOUND.value[0], "NoSuchBucket"),
            (6, 0, ""),
            (7, grpc.StatusCode.DEADLINE_EXCEEDED.value[0], ""),
        ]
        assert pb.BucketRecord.FromString(answers[5].answer).owner == "alice"
        assert answers[4].message == "The specified bucket does not exist."
        assert [b.name for b in state.list_buckets("")] == ["photos"]


def test_every_unary_method_is_served_by_its_handler() -> None:
    assert "Calls" not in METHODS and "FetchCheckpoint" not in METHODS
    assert len(METHODS) > 40
    for name, method in METHODS.items():
        # MetadataService's own handler, not the generated UNIMPLEMENTED one
        assert getattr(MetadataService, name) is not getattr(MetadataServicer, name), name
        assert method.request.DESCRIPTOR.full_name.startswith("tessera.")
