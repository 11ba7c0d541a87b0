"""The real servicer on a loopback grpc.aio server, called through MetadataClient."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pytest

from metadata.client import MetadataClient
from metadata.commit import CommitLog
from metadata.liveness import LocalLiveness
from metadata.service import LocalLivenessSource, MetadataService, add_to_server
from metadata.state import StateMachine
from proto.rpc import new_server
from tessera import errors
from tessera.model import NODE_DOWN, NODE_UP, NodeInfo, ObjectVersion

VersionFactory = Callable[..., ObjectVersion]
SECRET = "s3cret"
TIMEOUT = 5.0

pytestmark = pytest.mark.usefixtures("loop_watchdog")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    address: str
    client: MetadataClient
    clock: FakeClock
    state: StateMachine
    service: MetadataService


@pytest.fixture
async def running(state: StateMachine) -> AsyncIterator[Running]:
    clock = FakeClock()
    reads = ThreadPoolExecutor(max_workers=2)
    async with CommitLog(state, window_seconds=0.001) as commit_log:
        liveness = LocalLivenessSource(LocalLiveness(10.0), clock)
        service = MetadataService(state, commit_log, liveness, reads, clock=clock)
        server = new_server(SECRET)
        add_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        address = f"127.0.0.1:{port}"
        try:
            async with MetadataClient(address, SECRET) as client:
                yield Running(address, client, clock, state, service)
        finally:
            await server.stop(None)
    reads.shutdown(wait=True)


async def test_bucket_lifecycle(running: Running) -> None:
    c = running.client
    created = await c.create_bucket("photos", "alice", timeout=TIMEOUT)
    assert (created.name, created.owner, created.created_at) == ("photos", "alice", 1.7e9)
    assert await c.get_bucket("photos", timeout=TIMEOUT) == created
    await c.create_bucket("music", "bob", timeout=TIMEOUT)
    assert [b.name for b in await c.list_buckets("", timeout=TIMEOUT)] == ["music", "photos"]
    assert [b.name for b in await c.list_buckets("bob", timeout=TIMEOUT)] == ["music"]
    with pytest.raises(errors.BucketAlreadyOwnedByYou):
        await c.create_bucket("photos", "alice", timeout=TIMEOUT)
    with pytest.raises(errors.BucketAlreadyExists):
        await c.create_bucket("photos", "bob", timeout=TIMEOUT)
    await c.delete_bucket("photos", timeout=TIMEOUT)
    with pytest.raises(errors.NoSuchBucket):
        await c.get_bucket("photos", timeout=TIMEOUT)
    with pytest.raises(errors.NoSuchBucket):
        await c.delete_bucket("photos", timeout=TIMEOUT)


async def test_a_retried_delete_with_its_request_id_succeeds(running: Running) -> None:
    c = running.client
    await c.create_bucket("b", "alice", timeout=TIMEOUT)
    await c.delete_bucket("b", timeout=TIMEOUT, request_id="req-1")
    await c.delete_bucket("b", timeout=TIMEOUT, request_id="req-1")  # the retry: no NoSuchBucket


async def test_object_lifecycle(running: Running, make_version: VersionFactory) -> None:
    c = running.client
    with pytest.raises(errors.NoSuchBucket):
        await c.put_object(make_version("b", "k"), timeout=TIMEOUT)
    await c.create_bucket("b", "alice", timeout=TIMEOUT)
    first = replace(make_version("b", "k", inline_data=b"tiny"), request_id="put-1")
    assert await c.put_object(first, timeout=TIMEOUT) is None
    assert await c.put_object(first, timeout=TIMEOUT) is None  # retry: recorded outcome
    second = make_version("b", "k")
    assert await c.put_object(second, timeout=TIMEOUT) == first
    got = await c.get_object("b", "k", timeout=TIMEOUT)
    assert replace(got, request_id="") == second
    assert got.request_id  # the client named the commit
    with pytest.raises(errors.BucketNotEmpty):
        await c.delete_bucket("b", timeout=TIMEOUT)
    assert await c.delete_object("b", "k", timeout=TIMEOUT) == got
    assert await c.delete_object("b", "k", timeout=TIMEOUT) is None
    with pytest.raises(errors.NoSuchKey):
        await c.get_object("b", "k", timeout=TIMEOUT)
    with pytest.raises(errors.NoSuchBucket):
        await c.get_object("nope", "k", timeout=TIMEOUT)


async def test_a_get_answered_from_the_kept_record_sees_every_later_change(
    running: Running, make_version: VersionFactory
) -> None:
    c = running.client
    await c.create_bucket("b", "alice", timeout=TIMEOUT)
    await c.put_object(make_version("b", "k", etag="1" * 32), timeout=TIMEOUT)
    assert (await c.get_object("b", "k", timeout=TIMEOUT)).etag == "1" * 32
    assert running.state.cached_object("b", "k") is not None  # the next GET is on the loop
    assert (await c.get_object("b", "k", timeout=TIMEOUT)).etag == "1" * 32
    await c.put_object(make_version("b", "k", etag="2" * 32), timeout=TIMEOUT)
    assert (await c.get_object("b", "k", timeout=TIMEOUT)).etag == "2" * 32
    await c.put_object_tagging("b", "k", "", {"color": "red"}, timeout=TIMEOUT)
    assert (await c.get_object("b", "k", timeout=TIMEOUT)).tags == {"color": "red"}
    await c.delete_object("b", "k", timeout=TIMEOUT)
    with pytest.raises(errors.NoSuchKey):
        await c.get_object("b", "k", timeout=TIMEOUT)


async def test_list_objects(running: Running, make_version: VersionFactory) -> None:
    c = running.client
    await c.create_bucket("b", "alice", timeout=TIMEOUT)
    for key in ["a", "dir/1", "dir/2", "dir/sub/3", "z"]:
        await c.put_object(make_version("b", key), timeout=TIMEOUT)
    page = await c.list_objects("b", "", "/", "", 2, timeout=TIMEOUT)
    assert [v.key for v in page.objects] == ["a"]
    assert page.common_prefixes == ("dir/",)
    assert page.is_truncated and page.next_start_after == "dir/"
    page = await c.list_objects("b", "", "/", page.next_start_after, 2, timeout=TIMEOUT)
    assert ([v.key for v in page.objects], page.is_truncated) == (["z"], False)
    page = await c.list_objects("b", "dir/", "/", "", 1000, timeout=TIMEOUT)
    assert [v.key for v in page.objects] == ["dir/1", "dir/2"]
    assert page.common_prefixes == ("dir/sub/",)
    with pytest.raises(errors.NoSuchBucket):
        await c.list_objects("nope", "", "", "", 10, timeout=TIMEOUT)


async def test_bad_names_are_refused(running: Running, make_version: VersionFactory) -> None:
    c = running.client
    with pytest.raises(errors.InvalidBucketName):
        await c.create_bucket("a/b", "alice", timeout=TIMEOUT)
    with pytest.raises(errors.InvalidBucketName):
        await c.create_bucket("", "alice", timeout=TIMEOUT)
    # A name that could alias another bucket's keyspace cannot exist.
    await c.create_bucket("a", "alice", timeout=TIMEOUT)
    await c.put_object(make_version("a", "b\x00secret"), timeout=TIMEOUT)
    with pytest.raises(errors.NoSuchBucket):
        await c.get_object("a\x00b", "secret", timeout=TIMEOUT)
    with pytest.raises(errors.KeyTooLongError):
        await c.get_object("a", "k" * 1025, timeout=TIMEOUT)
    with pytest.raises(errors.InvalidArgument):
        await c.put_object(make_version("a", ""), timeout=TIMEOUT)


async def test_nodes_and_the_cluster_map(running: Running) -> None:
    c = running.client
    with pytest.raises(errors.InvalidRequest):
        await c.heartbeat("n1", 100, 1, timeout=TIMEOUT)
    view = await c.register_node(NodeInfo("n1", "zone-a", "10.0.0.1:9200"), timeout=TIMEOUT)
    assert [(n.node_id, n.state) for n in view.nodes] == [("n1", NODE_UP)]
    view2 = await c.register_node(NodeInfo("n2", "zone-b", "10.0.0.2:9200"), timeout=TIMEOUT)
    assert view2.epoch > view.epoch
    await c.heartbeat("n1", 1000, 10, timeout=TIMEOUT)
    running.clock.now += 11
    with pytest.raises(errors.InvalidRequest):  # silent past the grace: register again
        await c.heartbeat("n1", 1000, 20, timeout=TIMEOUT)
    await c.register_node(NodeInfo("n1", "zone-a", "10.0.0.1:9200", used_bytes=20), timeout=TIMEOUT)
    assert await running.service.reconcile_liveness(TIMEOUT) == 1  # n2 is gone
    assert await running.service.reconcile_liveness(TIMEOUT) == 0
    view3 = await c.get_cluster_map(timeout=TIMEOUT)
    assert {n.node_id: n.state for n in view3.nodes} == {"n1": NODE_UP, "n2": NODE_DOWN}
    assert view3.node("n1") is not None and view3.node("n1").used_bytes == 20  # type: ignore[union-attr]
    assert view3.epoch > view2.epoch
    assert [n.node_id for n in running.state.list_nodes()] == ["n1", "n2"]


async def test_remove_node_counts_placements_and_refuses_the_removed_node(
    running: Running, make_version: VersionFactory
) -> None:
    c = running.client
    for i in (1, 2, 3, 4):
        await c.register_node(NodeInfo(f"n{i}", "z", f"10.0.0.{i}:9200"), timeout=TIMEOUT)
    await c.create_bucket("b", "alice", timeout=TIMEOUT)
    for key in ("k1", "k2"):  # 2+1 on n1, n2, n3
        await c.put_object(make_version("b", key), timeout=TIMEOUT)
    with pytest.raises(errors.InvalidRequest, match="still holds 2 shard placements"):
        await c.remove_node("n2", force=False, timeout=TIMEOUT)
    with pytest.raises(errors.InvalidRequest, match="not down"):
        await c.remove_node("n2", force=True, timeout=TIMEOUT)
    with pytest.raises(errors.InvalidRequest, match="drain it first"):
        await c.remove_node("n4", force=False, timeout=TIMEOUT)  # names nothing, but up
    with pytest.raises(errors.InvalidArgument):
        await c.remove_node("n9", force=False, timeout=TIMEOUT)
    await c.set_node_state("n4", "draining", timeout=TIMEOUT)
    reply = await c.remove_node("n4", force=False, timeout=TIMEOUT)
    assert reply.placements == 0
    view = await c.get_cluster_map(timeout=TIMEOUT)
    assert [n.node_id for n in view.nodes] == ["n1", "n2", "n3"]
    assert (await c.remove_node("n4", force=False, timeout=TIMEOUT)).placements == 0  # a retry
    with pytest.raises(errors.InvalidRequest, match="removed from the cluster map"):
        await c.heartbeat("n4", 100, 1, timeout=TIMEOUT)
    with pytest.raises(errors.InvalidRequest, match="readmit"):
        await c.register_node(NodeInfo("n4", "z", "10.0.0.4:9200"), timeout=TIMEOUT)
    await c.readmit_node("n4", timeout=TIMEOUT)
    view = await c.register_node(NodeInfo("n4", "z", "10.0.0.4:9200"), timeout=TIMEOUT)
    assert view.node("n4") is not None and view.node("n4").state == NODE_UP  # type: ignore[union-attr]
    # n2 dies for good: forced removal, each set still has k = 2 shards.
    running.clock.now += 11
    for i in (1, 3, 4):
        await c.register_node(NodeInfo(f"n{i}", "z", f"10.0.0.{i}:9200"), timeout=TIMEOUT)
    await running.service.reconcile_liveness(TIMEOUT)
    await c.set_node_state("n3", "draining", timeout=TIMEOUT)  # still a healthy source
    reply = await c.remove_node("n2", force=True, timeout=TIMEOUT)
    assert (reply.placements, reply.shard_sets) == (2, 2)
    # Without n2, n1 and n3 are the last two shards of each set: not even --force.
    running.clock.now += 11
    for i in (3, 4):
        await c.register_node(NodeInfo(f"n{i}", "z", f"10.0.0.{i}:9200"), timeout=TIMEOUT)
    await running.service.reconcile_liveness(TIMEOUT)
    with pytest.raises(errors.InvalidRequest, match="2 shard sets that are unreadable"):
        await c.remove_node("n3", force=True, timeout=TIMEOUT)


async def test_a_wrong_secret_is_refused(running: Running) -> None:
    async with MetadataClient(running.address, "wrong") as intruder:
        with pytest.raises(errors.TesseraError):
            await intruder.list_buckets("", timeout=TIMEOUT)


async def test_an_unreachable_service_is_unavailable_within_the_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with MetadataClient(f"127.0.0.1:{port}", SECRET) as c:
        with pytest.raises(errors.ServiceUnavailable):
            await c.get_bucket("b", timeout=0.5)


async def test_a_caching_client_sees_its_own_changes_at_once_and_others_after_the_ttl(
    running: Running,
) -> None:
    other = running.client
    await other.create_bucket("photos", "alice", timeout=TIMEOUT)
    async with MetadataClient(running.address, SECRET, bucket_cache_seconds=0.3) as gateway:
        assert (await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)).acl == "private"
        await other.set_bucket_access("photos", "acl", "public-read", timeout=TIMEOUT)
        # another client's change: the cached record until the ttl runs out
        assert (await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)).acl == "private"
        assert (await gateway.get_bucket("photos", timeout=TIMEOUT)).acl == "public-read"
        await asyncio.sleep(0.4)
        assert (await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)).acl == (
            "public-read"
        )
        # its own change: at once, whether the answer carries the record or not
        await gateway.set_bucket_access("photos", "acl", "private", timeout=TIMEOUT)
        assert (await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)).acl == "private"
        await gateway.put_bucket_versioning("photos", "Enabled", timeout=TIMEOUT)
        found = await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)
        assert found.versioning == "Enabled"
        await gateway.delete_bucket("photos", timeout=TIMEOUT)
        with pytest.raises(errors.NoSuchBucket):
            await gateway.get_bucket("photos", timeout=TIMEOUT, cached=True)
