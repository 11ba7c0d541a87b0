"""metadata/etcd.py's EtcdClient against a real etcd: three members on free
loopback ports (cli/local_cluster.py starts them as `tessera up` does),
nothing else. Every call the metadata replicas make, etcd's refusals
(compacted revisions), leases, watches (order, fragments, a member going
away), failover past a dead port and a member that accepts connections but
never answers, and moving the calls to the leader."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from cli.local_cluster import Layout, LocalCluster
from metadata.etcd import (
    ATTEMPT_SECONDS_MAX,
    EtcdClient,
    EtcdCompacted,
    EtcdUnavailable,
    WatchEvent,
    prefix_end,
)

pytestmark = pytest.mark.integration

CALL_SECONDS = 10.0
# Guards against a hang only: every wait here ends on an event long before.
HANG_GUARD_SECONDS = 60.0


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    layout = Layout.with_free_ports(tmp_path_factory.mktemp("etcd"), zones=1, nodes_per_zone=1)
    cluster = LocalCluster(layout)
    try:
        cluster.start(layout.etcd_names())
        cluster.wait_ready(60, layout.etcd_names())
        yield cluster
    finally:
        cluster.stop()


def urls(cluster: LocalCluster) -> list[str]:
    return cluster.layout.etcd_client_urls().split(",")


@pytest.fixture
async def client(etcd: LocalCluster) -> AsyncIterator[EtcdClient]:
    async with EtcdClient(urls(etcd)) as c:
        yield c


def dead_endpoint() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_kv_calls(client: EtcdClient) -> None:
    first = await client.put(b"/kv/a", b"1", timeout=CALL_SECONDS)
    second = await client.put(b"/kv/b", b"2", timeout=CALL_SECONDS)
    assert second == first + 1
    revision, kv = await client.get(b"/kv/a", timeout=CALL_SECONDS)
    assert revision >= second and kv is not None
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision) == (b"/kv/a", b"1", first, first)
    await client.put(b"/kv/a", b"3", timeout=CALL_SECONDS)
    _, kv = await client.get(b"/kv/a", timeout=CALL_SECONDS)
    assert kv is not None and kv.value == b"3" and kv.version == 2 and kv.create_revision == first

    everything = await client.range(b"/kv/", range_end=prefix_end(b"/kv/"), timeout=CALL_SECONDS)
    assert [(k.key, k.value) for k in everything.kvs] == [(b"/kv/a", b"3"), (b"/kv/b", b"2")]
    keys = await client.range(
        b"/kv/", range_end=prefix_end(b"/kv/"), keys_only=True, timeout=CALL_SECONDS
    )
    assert [(k.key, k.value) for k in keys.kvs] == [(b"/kv/a", b""), (b"/kv/b", b"")]
    one = await client.range(b"/kv/", range_end=prefix_end(b"/kv/"), limit=1, timeout=CALL_SECONDS)
    assert [k.key for k in one.kvs] == [b"/kv/a"]
    past = await client.range(b"/kv/a", revision=first, timeout=CALL_SECONDS)
    assert past.kvs[0].value == b"1"
    local = await client.range(b"/kv/b", serializable=True, timeout=CALL_SECONDS)
    assert local.kvs[0].value == b"2"

    created, holder = await client.put_if_absent(b"/kv/c", b"mine", timeout=CALL_SECONDS)
    assert created and holder is None
    created, holder = await client.put_if_absent(b"/kv/c", b"theirs", timeout=CALL_SECONDS)
    assert not created and holder is not None and holder.value == b"mine"

    deleted_at = await client.delete(b"/kv/c", timeout=CALL_SECONDS)
    revision, kv = await client.get(b"/kv/c", timeout=CALL_SECONDS)
    assert kv is None and revision >= deleted_at

    status = await client.status(timeout=CALL_SECONDS)
    assert status.member_id and status.leader_id and status.db_size_bytes > 0
    assert status.version.startswith("3.")


async def test_compaction(client: EtcdClient) -> None:
    old = await client.put(b"/compact/k", b"old", timeout=CALL_SECONDS)
    new = await client.put(b"/compact/k", b"new", timeout=CALL_SECONDS)
    await client.compact(new, timeout=CALL_SECONDS)
    await client.compact(old, timeout=CALL_SECONDS)  # already compacted: fine
    with pytest.raises(EtcdCompacted):
        await client.range(b"/compact/k", revision=old, timeout=CALL_SECONDS)
    got = await client.range(b"/compact/k", revision=new, timeout=CALL_SECONDS)
    assert got.kvs[0].value == b"new"
    with pytest.raises(EtcdCompacted) as info:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            async for _ in client.watch(b"/compact/k", old, connect_timeout=CALL_SECONDS):
                pass
    assert info.value.compact_revision == new


async def test_leases(client: EtcdClient) -> None:
    lease = await client.lease_grant(30, timeout=CALL_SECONDS)
    assert lease > 0
    await client.put(b"/lease/k", b"v", lease=lease, timeout=CALL_SECONDS)
    _, kv = await client.get(b"/lease/k", timeout=CALL_SECONDS)
    assert kv is not None and kv.lease == lease
    ttl = await client.lease_keepalive(lease, timeout=CALL_SECONDS)
    assert 0 < ttl <= 30
    await client.lease_revoke(lease, timeout=CALL_SECONDS)
    _, kv = await client.get(b"/lease/k", timeout=CALL_SECONDS)
    assert kv is None  # the lease's keys went with it
    assert await client.lease_keepalive(lease, timeout=CALL_SECONDS) == 0
    await client.lease_revoke(lease, timeout=CALL_SECONDS)  # unknown now: fine


async def collect(client: EtcdClient, key: bytes, start: int, count: int) -> list[list[WatchEvent]]:
    batches: list[list[WatchEvent]] = []
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        async for _, events in client.watch(key, start, connect_timeout=CALL_SECONDS):
            batches.append(events)
            if sum(len(b) for b in batches) >= count:
                return batches
    raise AssertionError("the watch ended")


async def test_watch_delivers_history_then_live_puts_in_order(client: EtcdClient) -> None:
    revisions = [await client.put(b"/watch/log", b"%d" % i, timeout=CALL_SECONDS) for i in range(5)]
    watching = asyncio.create_task(collect(client, b"/watch/log", revisions[0], 10))
    await client.put(b"/watch/other", b"not watched", timeout=CALL_SECONDS)
    for i in range(5, 10):
        revisions.append(await client.put(b"/watch/log", b"%d" % i, timeout=CALL_SECONDS))
    events = [e for batch in await watching for e in batch]
    assert [e.kv.mod_revision for e in events] == revisions
    assert [e.kv.value for e in events] == [b"%d" % i for i in range(10)]
    assert {(e.kind, e.kv.key) for e in events} == {("PUT", b"/watch/log")}


async def test_watch_delivers_large_revisions_in_fragments(client: EtcdClient) -> None:
    # Three 1 MiB entries exceed etcd's 1.5 MiB request limit together.
    values = [bytes([i]) * (1 << 20) for i in range(3)]
    revisions = [await client.put(b"/watch/big", v, timeout=CALL_SECONDS) for v in values]
    batches = await collect(client, b"/watch/big", revisions[0], 3)
    assert len(batches) >= 2
    events = [e for batch in batches for e in batch]
    assert [e.kv.mod_revision for e in events] == revisions
    assert [e.kv.value for e in events] == values


async def test_watch_breaks_when_its_member_stops(etcd: LocalCluster) -> None:
    name = etcd.layout.etcd_names()[-1]
    async with EtcdClient([urls(etcd)[-1], *urls(etcd)[:-1]]) as client:
        start = await client.put(b"/watch/stop", b"before", timeout=CALL_SECONDS)
        endpoint = client.preferred_endpoint
        seen = 0
        with pytest.raises(EtcdUnavailable):
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                async for _, events in client.watch(
                    b"/watch/stop", start, connect_timeout=CALL_SECONDS
                ):
                    seen += len(events)
                    etcd.stop_process(name)
        assert seen == 1
        assert client.preferred_endpoint != endpoint  # demoted
        # The rest of the cluster carries on.
        await client.put(b"/watch/stop", b"after", timeout=CALL_SECONDS)
    etcd.start_process(name)
    etcd.wait_ready(60, [name])


async def test_failover_past_a_dead_port(etcd: LocalCluster) -> None:
    dead = dead_endpoint()
    async with EtcdClient([dead, *urls(etcd)]) as client:
        revision = await client.put(b"/failover/k", b"v", timeout=CALL_SECONDS)
        assert revision > 0
        assert client.preferred_endpoint != dead


async def test_failover_past_a_member_that_never_answers(etcd: LocalCluster) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # the connection stays open, nothing is ever sent

    server = await asyncio.start_server(accept_and_hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = f"http://127.0.0.1:{port}"
    try:
        async with EtcdClient([hung, *urls(etcd)]) as client:
            assert CALL_SECONDS > ATTEMPT_SECONDS_MAX * 2
            got = await client.range(b"/failover/k", timeout=CALL_SECONDS)
            assert got.revision > 0
            assert client.preferred_endpoint != hung
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def _leader_url(endpoints: list[str]) -> str:
    for url in endpoints:
        async with EtcdClient([url]) as one:
            status = await one.status(timeout=CALL_SECONDS)
            if status.leader_id == status.member_id:
                return url
    raise AssertionError("no member says it leads")


async def test_prefer_leader_moves_calls_to_the_leader(etcd: LocalCluster) -> None:
    members = urls(etcd)
    leader = await _leader_url(members)
    # the leader last, a dead port first: every member is asked in turn
    ordered = [dead_endpoint(), *(u for u in members if u != leader), leader]
    async with EtcdClient(ordered) as client:
        assert client.preferred_endpoint != leader
        assert await client.prefer_leader(timeout=CALL_SECONDS)
        assert client.preferred_endpoint == leader
        status = await client.status(timeout=CALL_SECONDS)
        assert status.member_id == status.leader_id
        # already there: nothing moves
        assert await client.prefer_leader(timeout=CALL_SECONDS)
        assert client.preferred_endpoint == leader


async def test_prefer_leader_without_a_reachable_leader_keeps_the_preference() -> None:
    dead = [dead_endpoint(), dead_endpoint()]
    async with EtcdClient(dead) as client:
        assert not await client.prefer_leader(timeout=1.0)
        assert client.preferred_endpoint == dead[0]


async def test_only_dead_endpoints_raise_unavailable() -> None:
    # A call that ignored its 1 s deadline would keep retrying the dead ports
    # forever; ten times the deadline is room for a loaded machine, not a bound.
    async with EtcdClient([dead_endpoint(), dead_endpoint()]) as client:
        async with asyncio.timeout(10.0):
            with pytest.raises(EtcdUnavailable):
                await client.put(b"/k", b"v", timeout=1.0)
            with pytest.raises(EtcdUnavailable):
                await client.lease_keepalive(1, timeout=1.0)
            with pytest.raises(EtcdUnavailable):
                async for _ in client.watch(b"/k", 1, connect_timeout=1.0):
                    pass


def test_endpoints_must_be_urls() -> None:
    with pytest.raises(ValueError):
        EtcdClient(["ftp://127.0.0.1:2379"])
