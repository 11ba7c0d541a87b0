"""The node's side of repair: RebuildShard from peers, ListShards, and the
scrubber's quarantine. Real gRPC servers on 127.0.0.1, one store each."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from node.scrubber import Scrubber
from node.service import NodeIdentity, NodeServicer, meta_to_pb
from node.shard_format import ShardMeta
from node.store import ShardStore
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.node_rpc import add_node_servicer
from proto.rpc import call_metadata, new_channel, new_server
from tessera.checksum import crc32c
from tessera.codec import encode_stripe
from tessera.geometry import Geometry
from tessera.ids import new_version_id

SECRET = "repair-secret"
pytestmark = pytest.mark.usefixtures("loop_watchdog")


class Cluster:
    def __init__(self) -> None:
        self.stores: list[ShardStore] = []
        self.addresses: list[str] = []
        self.stubs: list[pb_grpc.NodeStub] = []


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster()
    executor = ThreadPoolExecutor(max_workers=8)
    servers, channels = [], []
    for i in range(4):
        store = ShardStore(tmp_path / f"n{i}")
        server = new_server(SECRET)
        servicer = NodeServicer(store, executor, NodeIdentity(f"n{i}", "z", 10**12), SECRET)
        add_node_servicer(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = new_channel(f"127.0.0.1:{port}")
        cluster.stores.append(store)
        cluster.addresses.append(f"127.0.0.1:{port}")
        cluster.stubs.append(pb_grpc.NodeStub(channel))
        servers.append(server)
        channels.append(channel)
    try:
        yield cluster
    finally:
        for channel in channels:
            await channel.close(None)
        for server in servers:
            await server.stop(None)
        executor.shutdown(wait=True)
        for store in cluster.stores:
            store.close()


def write_version(cluster: Cluster, geometry: Geometry, data: bytes, trailer: bytes = b"") -> str:
    """Stores shard i of a new version on node i, directly through the stores."""
    version_id = new_version_id()
    stripe_bytes = geometry.stripe_size_bytes
    stripes = [data[i : i + stripe_bytes] for i in range(0, len(data), stripe_bytes)]
    encoded = [encode_stripe(s, geometry) for s in stripes]
    for shard_index in range(geometry.total_shards):
        meta = ShardMeta(
            "b",
            "k",
            version_id,
            shard_index,
            geometry.data_shards,
            geometry.parity_shards,
            geometry.chunk_size_bytes,
            len(data),
            len(stripes),
        )
        with cluster.stores[shard_index].begin_write(meta) as writer:
            for s, chunks in enumerate(encoded):
                writer.append(s, chunks[shard_index], crc32c(chunks[shard_index]))
            writer.commit(len(stripes), trailer)
    return version_id


def shard_file(store: ShardStore, version_id: str, index: int) -> Path:
    return store.shard_path(version_id, index)


async def rebuild(  # type: ignore[no-untyped-def]
    cluster: Cluster, target: int, meta: ShardMeta, sources: list[int], trailer: bytes = b""
):
    return await cluster.stubs[target].RebuildShard(
        pb.RebuildShardRequest(
            header=meta_to_pb(meta),
            sources=[pb.ShardSource(shard_index=i, address=cluster.addresses[i]) for i in sources],
            timeout_seconds=30,
            trailer=trailer,
        ),
        metadata=call_metadata(SECRET),
        timeout=60,
    )


async def test_rebuild_recreates_the_shard_byte_for_byte(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    data = os.urandom(7 * 2000 + 333)
    vid = write_version(nodes, geometry, data)
    original = shard_file(nodes.stores[3], vid, 3).read_bytes()
    meta = nodes.stores[3].read_meta(vid, 3)
    assert nodes.stores[3].delete(vid, 3)
    # shard 0 is corrupt: the rebuild must fail over to shard 2
    path = shard_file(nodes.stores[0], vid, 0)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x01
    path.write_bytes(bytes(raw))
    reply = await rebuild(nodes, 3, meta, [0, 1, 2])
    assert reply.stored_bytes == len(original)
    assert shard_file(nodes.stores[3], vid, 3).read_bytes() == original


async def test_rebuild_without_enough_sources_stores_nothing(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    vid = write_version(nodes, geometry, os.urandom(5000))
    meta = nodes.stores[3].read_meta(vid, 3)
    nodes.stores[3].delete(vid, 3)
    nodes.stores[1].delete(vid, 1)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await rebuild(nodes, 3, meta, [0, 1])
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not shard_file(nodes.stores[3], vid, 3).exists()
    assert list(nodes.stores[3].tmp_dir.iterdir()) == []


async def test_a_move_copies_the_shard_from_its_holder(nodes: Cluster) -> None:
    """Shard 3 moves to node 0, which is given only shard 3's holder: a rebuild
    would need k = 2 sources, so this succeeds only by copying."""
    geometry = Geometry(2, 2, 1000)
    vid = write_version(nodes, geometry, os.urandom(7 * 2000 + 333))
    original = shard_file(nodes.stores[3], vid, 3).read_bytes()
    meta = nodes.stores[3].read_meta(vid, 3)
    reply = await rebuild(nodes, 0, meta, [3])
    assert shard_file(nodes.stores[0], vid, 3).read_bytes() == original
    # Every chunk of the shard once, nothing more: 7 full chunks and ceil(333 / 2).
    assert reply.read_bytes == 7 * 1000 + 167


async def test_a_move_from_a_corrupt_holder_rebuilds_from_the_others(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    vid = write_version(nodes, geometry, os.urandom(7 * 2000 + 333))
    original = shard_file(nodes.stores[3], vid, 3).read_bytes()
    meta = nodes.stores[3].read_meta(vid, 3)
    path = shard_file(nodes.stores[3], vid, 3)
    raw = bytearray(original)
    raw[-10] ^= 0x01  # the last chunk: the copy fails after writing most of it
    path.write_bytes(bytes(raw))
    reply = await rebuild(nodes, 0, meta, [3, 1, 2])
    assert shard_file(nodes.stores[0], vid, 3).read_bytes() == original
    assert reply.read_bytes > 7 * 1000 + 167  # decoded from k = 2 others
    assert list(nodes.stores[0].tmp_dir.iterdir()) == []


async def test_list_shards(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    vids = {write_version(nodes, geometry, os.urandom(3000)) for _ in range(3)}
    call = nodes.stubs[1].ListShards(
        pb.ListShardsRequest(), metadata=call_metadata(SECRET), timeout=10
    )
    headers = [h async for h in call]
    assert {h.version_id for h in headers} == vids
    assert {h.shard_index for h in headers} == {1}
    assert all(h.bucket == "b" and h.key == "k" and h.object_size_bytes == 3000 for h in headers)


async def test_list_shards_with_trailers(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    trailer = b'{"etag":"abc"}'
    with_one = write_version(nodes, geometry, os.urandom(3000), trailer)
    damaged = write_version(nodes, geometry, os.urandom(3000), trailer)
    path = shard_file(nodes.stores[1], damaged, 1)
    raw = bytearray(path.read_bytes())
    raw[-2] ^= 0x01  # inside the trailer
    path.write_bytes(bytes(raw))

    async def listing(with_trailer: bool) -> dict[str, bytes]:
        call = nodes.stubs[1].ListShards(
            pb.ListShardsRequest(with_trailer=with_trailer),
            metadata=call_metadata(SECRET),
            timeout=10,
        )
        return {h.version_id: h.trailer async for h in call}

    # a damaged trailer still lists the shard, without a trailer
    assert await listing(True) == {with_one: trailer, damaged: b""}
    assert await listing(False) == {with_one: b"", damaged: b""}


async def test_rebuilt_shard_carries_the_trailer_it_is_given(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    trailer = b'{"etag":"abc"}'
    vid = write_version(nodes, geometry, os.urandom(5000), trailer)
    original = shard_file(nodes.stores[3], vid, 3).read_bytes()
    meta = nodes.stores[3].read_meta(vid, 3)
    assert nodes.stores[3].delete(vid, 3)
    await rebuild(nodes, 3, meta, [0, 1, 2], trailer)
    assert shard_file(nodes.stores[3], vid, 3).read_bytes() == original
    assert nodes.stores[3].read_trailer(vid, 3) == (meta, trailer)


async def test_scrubber_quarantines_and_reports(nodes: Cluster) -> None:
    geometry = Geometry(2, 2, 1000)
    good = write_version(nodes, geometry, os.urandom(4000))
    bad = write_version(nodes, geometry, os.urandom(4000))
    store = nodes.stores[2]
    path = shard_file(store, bad, 2)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x80
    path.write_bytes(bytes(raw))
    reported: list[tuple[str, int]] = []

    async def report(version_id: str, shard_index: int) -> None:
        reported.append((version_id, shard_index))

    scrubber = Scrubber(
        store,
        ThreadPoolExecutor(2),
        rate_bytes_per_second=10**9,
        pass_interval_seconds=3600,
        on_corrupt=report,
    )
    assert await scrubber.scrub_once() == [(bad, 2)]
    assert reported == [(bad, 2)]
    assert not path.exists()
    assert [p.name.split(".")[0] for p in store.quarantine_dir.iterdir()] == [bad]
    assert store.read_meta(good, 2).version_id == good
    assert await scrubber.scrub_once() == []  # quarantined shards are not served or rescanned
