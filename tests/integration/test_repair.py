"""The cluster heals itself: a node killed for good is rebuilt elsewhere,
flipped bytes are scrubbed and repaired in place, GC removes only what no
version references and never an in-flight write's shards. Each test has its
own cluster (3 zones x 3 nodes, 4+2), with short grace periods."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli.local_cluster import Layout, LocalCluster
from metadata.client import MetadataClient
from node.shard_format import PREFIX, RECORD, decode_prefix
from proto import rpc
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from tessera import ids
from tessera.checksum import crc32c
from tessera.codec import encode_stripe
from tessera.geometry import Geometry
from tessera.model import NODE_DOWN, ObjectVersion, ShardLocation
from tessera.placement import zone_cap
from tessera.repair_plan import ShardSet, ideal_nodes, shard_sets_of
from tests.integration.harness import admin_output as admin
from tests.integration.harness import s3_client, start_layout

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * KiB
FAST = {
    "TESSERA_NODE_DOWN_GRACE_SECONDS": "3",
    "TESSERA_REPAIR_SCAN_INTERVAL_SECONDS": "1",
    "TESSERA_SCRUB_INTERVAL_SECONDS": "2",
    "TESSERA_GC_INTERVAL_SECONDS": "1",
    "TESSERA_GC_GRACE_SECONDS": "6",
}


def start(data_dir: Path, extra: dict[str, str] | None = None) -> LocalCluster:
    layout = Layout.with_free_ports(data_dir, zones=3, nodes_per_zone=3)
    layout.extra_env.update({**FAST, **(extra or {})})
    return start_layout(layout)


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start(tmp_path / "cluster")
    yield c
    c.stop()


def meta(cluster: LocalCluster) -> MetadataClient:
    return MetadataClient(cluster.layout.metadata_addresses(), cluster.credentials.cluster_secret)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _versions(cluster: LocalCluster, bucket: str, keys: list[str]) -> list[ObjectVersion]:
    async with meta(cluster) as client:
        return [await client.get_object(bucket, k, timeout=10) for k in keys]


async def _by_id(
    cluster: LocalCluster, bucket: str, key: str, ids: list[str]
) -> list[ObjectVersion]:
    async with meta(cluster) as client:
        return [await client.get_object_version(bucket, key, i, timeout=10) for i in ids]


def put_noncurrent(s3, bucket: str, count: int) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """A versioned bucket whose key "k" has count versions (all but the last
    noncurrent); returns version id -> body."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    bodies = {}
    for _ in range(count):
        body = os.urandom(200 * KiB)
        bodies[s3.put_object(Bucket=bucket, Key="k", Body=body)["VersionId"]] = body
    return bodies


async def _map(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    async with meta(cluster) as client:
        return await client.get_cluster_map(timeout=10)


def wait_for(check: Callable[[], bool], timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def shard_files(cluster: LocalCluster, node_id: str) -> set[str]:
    root = cluster.node_data_dir(node_id) / "shards"
    return {p.name for p in root.glob("*/*")} if root.exists() else set()


def put_objects(s3, bucket: str, sizes: list[int]) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket=bucket)
    objects = {}
    for i, size in enumerate(sizes):
        body = os.urandom(size)
        s3.put_object(Bucket=bucket, Key=f"obj-{i}", Body=body)
        objects[f"obj-{i}"] = body
    return objects


def test_node_killed_for_good_is_rebuilt_elsewhere(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"heal-{uuid.uuid4().hex[:8]}"
    objects = put_objects(
        s3, bucket, [4097, 5000, MiB - 1, MiB + 1, 3 * MiB + 77] + [20 * KiB] * 15
    )
    keys = sorted(objects)
    vbucket = f"heal-v-{uuid.uuid4().hex[:8]}"
    old = put_noncurrent(s3, vbucket, 4)
    victim = Counter(
        loc.node_id
        for v in run(_versions(own_cluster, bucket, keys))
        + run(_by_id(own_cluster, vbucket, "k", list(old)))
        for loc in v.placement
    ).most_common(1)[0][0]
    own_cluster.kill(victim)
    started = time.monotonic()

    def healed() -> bool:
        versions = run(_versions(own_cluster, bucket, keys))
        versions += run(_by_id(own_cluster, vbucket, "k", list(old)))  # noncurrent ones too
        return all(
            len(v.placement) == 6 and victim not in {loc.node_id for loc in v.placement}
            for v in versions
        )

    wait_for(healed, 90, "every object back at full redundancy")
    took = time.monotonic() - started
    print(f"full redundancy {took:.1f} s after the kill (grace 3 s)")
    view = run(_map(own_cluster))
    assert view.node(victim).state == NODE_DOWN
    zone_of = {n.node_id: n.zone for n in view.nodes}
    for v in run(_versions(own_cluster, bucket, keys)):
        nodes = [loc.node_id for loc in v.placement]
        assert len(set(nodes)) == 6
        assert max(Counter(zone_of[n] for n in nodes).values()) <= zone_cap(v.geometry, 3)
        for loc in v.placement:  # the shard is really there
            assert f"{v.version_id}.{loc.shard_index}" in shard_files(own_cluster, loc.node_id)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    for version_id, body in old.items():
        got = s3.get_object(Bucket=vbucket, Key="k", VersionId=version_id)["Body"].read()
        assert got == body, version_id
    # Byte-identical rebuilt shards: compare each with a fresh encoding.
    for v in run(_versions(own_cluster, bucket, keys)):
        for loc in v.placement:
            if v.size_bytes > 1000:
                got = run(_read_shard(own_cluster, loc.node_id, v.version_id, loc.shard_index))
                assert got == _expected_shard(objects[v.key], v.geometry, loc.shard_index)
    status = admin(own_cluster, "repair", "status")
    assert "repair leader" in status, status
    print(status)


def on_ideal_nodes(cluster: LocalCluster, bucket: str, keys: list[str]) -> bool:
    """Every shard set of these objects sits on the nodes placement would
    pick now (nothing left for the rebalance to move)."""
    nodes = {n.node_id: n for n in run(_map(cluster)).nodes}
    sets: list[ShardSet] = [
        s for v in run(_versions(cluster, bucket, keys)) for s in shard_sets_of(v)
    ]
    return all(
        set(ideal_nodes(s, nodes) or ()) == {loc.node_id for loc in s.placement} for s in sets
    )


def settled(cluster: LocalCluster, bucket: str, keys: list[str]) -> bool:
    """Every node of the layout is in the map and these objects are on their
    ideal nodes: no rebalance will copy or delete their shards. (A node that
    registers after the first PUTs were placed gets its share moved onto it,
    and a test that damages a shard must not race that move.)"""
    expected = len(cluster.layout.node_names())
    return len(run(_map(cluster)).nodes) == expected and on_ideal_nodes(cluster, bucket, keys)


def flip_byte(path: Path, offset_from_end: int = 100) -> None:
    with open(path, "r+b") as f:
        f.seek(-offset_from_end, os.SEEK_END)
        byte = f.read(1)
        f.seek(-offset_from_end, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_flipped_bytes_are_scrubbed_and_repaired(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"rot-{uuid.uuid4().hex[:8]}"
    objects = put_objects(s3, bucket, [MiB + 5, 2 * MiB, 300 * KiB, 70 * KiB])
    keys = sorted(objects)
    wait_for(lambda: settled(own_cluster, bucket, keys), 60, "the objects on their ideal nodes")
    versions = run(_versions(own_cluster, bucket, keys))
    flipped: list[tuple[str, int, str]] = []
    for v, index in zip(versions, (0, 3, 5, 1), strict=True):
        node_id = v.node_for_shard(index)
        assert node_id is not None
        path = own_cluster.node_data_dir(node_id) / "shards" / v.version_id[-2:]
        flip_byte(path / f"{v.version_id}.{index}")
        flipped.append((v.version_id, index, node_id))
    digests = {k: hashlib.sha256(b).hexdigest() for k, b in objects.items()}
    # Reads never return the bad bytes, before or during repair.
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digests[key]

    def repaired() -> bool:
        for vid, index, node_id in flipped:
            root = own_cluster.node_data_dir(node_id)
            if f"{vid}.{index}" not in shard_files(own_cluster, node_id):
                return False
            if not any(
                p.name.startswith(f"{vid}.{index}.") for p in (root / "quarantine").iterdir()
            ):
                return False
        return True

    wait_for(repaired, 120, "every flipped shard quarantined and rebuilt in place")
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digests[key]
    # The rebuilt shards are byte-identical to what the gateway wrote: read
    # each from its node alone and compare with a fresh encoding.
    for v in run(_versions(own_cluster, bucket, keys)):
        for vid, index, node_id in flipped:
            if vid != v.version_id:
                continue
            got = run(_read_shard(own_cluster, node_id, vid, index))
            assert got == _expected_shard(objects[v.key], v.geometry, index)


def flip_chunk_byte(path: Path, offset_in_chunk: int) -> None:
    """Flips one byte of the first chunk's data (not of its record or of the
    trailer at the end of the file)."""
    with open(path, "r+b") as f:
        _, header_length, _ = decode_prefix(f.read(PREFIX.size))
        offset = PREFIX.size + header_length + RECORD.size + offset_in_chunk
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def read_chunks_calls(cluster: LocalCluster, node_id: str, code: str) -> float:
    url = f"http://{cluster.layout.host}:{cluster.http_port_of(node_id)}/metrics"
    prefix = f'tessera_node_read_chunks_duration_seconds_count{{code="{code}"}}'
    with urllib.request.urlopen(url, timeout=5) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
    return 0.0


def test_a_corrupt_shard_met_by_a_one_message_read_is_never_served_and_is_repaired(
    tmp_path: Path,
) -> None:
    # No scrubbing: the read alone must find the damage and get it repaired.
    cluster = start(tmp_path / "cluster", {"TESSERA_SCRUB_INTERVAL_SECONDS": "86400"})
    try:
        s3 = s3_client(cluster)
        bucket = f"rot1-{uuid.uuid4().hex[:8]}"
        body = os.urandom(MiB - 3)  # one stripe: each shard is read with ReadChunks
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=body)
        (version,) = run(_versions(cluster, bucket, ["k"]))
        assert version.geometry.stripe_count(len(body)) == 1
        node_id = version.node_for_shard(0)
        assert node_id is not None
        path = cluster.node_data_dir(node_id) / "shards" / version.version_id[-2:]
        flip_chunk_byte(path / f"{version.version_id}.0", 1000)  # body byte 1000

        got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=900-1099")["Body"].read()
        assert got == body[900:1100]
        assert read_chunks_calls(cluster, node_id, "DATA_LOSS") == 1
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
        quarantine = cluster.node_data_dir(node_id) / "quarantine"
        assert [p.name.split(".")[:2] for p in quarantine.iterdir()] == [[version.version_id, "0"]]

        def repaired() -> bool:
            return f"{version.version_id}.0" in shard_files(cluster, node_id)

        wait_for(repaired, 60, "the quarantined shard rebuilt in place")
        got_shard = run(_read_shard(cluster, node_id, version.version_id, 0))
        assert got_shard == _expected_shard(body, version.geometry, 0)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
        assert read_chunks_calls(cluster, node_id, "OK") >= 1  # served again, repaired
    finally:
        cluster.stop()


async def _read_shard(cluster: LocalCluster, node_id: str, vid: str, index: int) -> bytes:
    channel = rpc.new_channel(cluster.grpc_address_of(node_id))
    try:
        stub = pb_grpc.NodeStub(channel)
        call = stub.GetShard(
            pb.GetShardRequest(version_id=vid, shard_index=index),
            timeout=30,
            metadata=rpc.call_metadata(cluster.credentials.cluster_secret),
        )
        return b"".join([c.data async for c in call])
    finally:
        await channel.close(None)


def _expected_shard(body: bytes, geometry: Geometry, index: int) -> bytes:
    out = []
    for stripe in range(geometry.stripe_count(len(body))):
        start = stripe * geometry.stripe_size_bytes
        data = body[start : start + geometry.stripe_size_bytes]
        out.append(encode_stripe(data, geometry)[index])
    return b"".join(out)


async def _put_shards(
    cluster: LocalCluster,
    node_ids: list[str],
    bucket: str,
    key: str,
    body: bytes,
    geometry: Geometry,
) -> str:
    """Writes every shard of a version the way the gateway does, without
    committing it: an in-flight write, frozen between its shards becoming
    durable and its commit."""
    vid = ids.new_version_id()
    secret = rpc.call_metadata(cluster.credentials.cluster_secret)
    chunks = [encode_stripe(body, geometry)]  # one stripe
    for index, node_id in enumerate(node_ids):
        channel = rpc.new_channel(cluster.grpc_address_of(node_id))
        try:
            stub = pb_grpc.NodeStub(channel)
            header = pb.ShardHeader(
                bucket=bucket,
                key=key,
                version_id=vid,
                shard_index=index,
                data_shards=geometry.data_shards,
                parity_shards=geometry.parity_shards,
                chunk_size_bytes=geometry.chunk_size_bytes,
                object_size_bytes=len(body),
                stripe_count=1,
            )
            chunk = chunks[0][index]

            async def requests():  # type: ignore[no-untyped-def]
                yield pb.PutShardRequest(header=header)  # noqa: B023
                yield pb.PutShardRequest(
                    chunk=pb.Chunk(stripe_index=0, data=chunk, crc32c=crc32c(chunk))  # noqa: B023
                )
                yield pb.PutShardRequest(finish=pb.Finish(chunk_count=1))

            await stub.PutShard(requests(), timeout=30, metadata=secret)
        finally:
            await channel.close(None)
    return vid


async def _commit(
    cluster: LocalCluster, bucket: str, key: str, vid: str, body: bytes, geometry: Geometry,
    node_ids: list[str],
) -> None:  # fmt: skip
    version = ObjectVersion(
        bucket=bucket,
        key=key,
        version_id=vid,
        size_bytes=len(body),
        etag=hashlib.md5(body).hexdigest(),
        content_type="application/octet-stream",
        last_modified=time.time(),
        data_shards=geometry.data_shards,
        parity_shards=geometry.parity_shards,
        chunk_size_bytes=geometry.chunk_size_bytes,
        placement=tuple(ShardLocation(i, n) for i, n in enumerate(node_ids)),
    )
    async with meta(cluster) as client:
        await client.put_object(version, timeout=10)


def test_gc_spares_in_flight_writes_and_removes_garbage(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"gc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    geometry = Geometry(4, 2, 64 * KiB)
    nodes = [n for n, _ in own_cluster.layout.node_names()][:6]
    body = os.urandom(100 * KiB)
    # An orphan (a write that failed before its commit) and an overwritten version.
    orphan = run(_put_shards(own_cluster, nodes, bucket, "orphan", body, geometry))
    s3.put_object(Bucket=bucket, Key="over", Body=b"x" * 50_000)
    first = run(_versions(own_cluster, bucket, ["over"]))[0]
    s3.put_object(Bucket=bucket, Key="over", Body=b"y" * 50_000)
    # A versioned bucket: noncurrent versions keep their shards; one deleted by id does not.
    vbucket = f"gc-v-{uuid.uuid4().hex[:8]}"
    old = put_noncurrent(s3, vbucket, 3)
    dropped = next(iter(old))
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=dropped)
    s3.delete_object(Bucket=vbucket, Key="k")  # a delete marker: nothing is reclaimed
    # The in-flight write: shards durable now, commit after several GC passes
    # (GC runs every second, grace 6 s).
    in_flight = run(_put_shards(own_cluster, nodes, bucket, "racing", body, geometry))
    time.sleep(4)
    # Several GC passes ran meanwhile: nothing references these shards yet,
    # but they are younger than the grace period, so they are all still there.
    for index, node_id in enumerate(nodes):
        assert f"{in_flight}.{index}" in shard_files(own_cluster, node_id)
    run(_commit(own_cluster, bucket, "racing", in_flight, body, geometry, nodes))

    def orphan_gone() -> bool:
        everything = set().union(
            *(shard_files(own_cluster, n) for n, _ in own_cluster.layout.node_names())
        )
        return not any(name.startswith((orphan, first.version_id, dropped)) for name in everything)

    wait_for(orphan_gone, 30, "GC to remove the orphan and the overwritten version's shards")
    time.sleep(3)  # several more passes, well past the grace period
    everything = set().union(
        *(shard_files(own_cluster, n) for n, _ in own_cluster.layout.node_names())
    )
    for version_id, old_body in list(old.items())[1:]:
        assert sum(name.startswith(version_id) for name in everything) == 6, version_id
        got = s3.get_object(Bucket=vbucket, Key="k", VersionId=version_id)["Body"].read()
        assert got == old_body

    # Committed, the in-flight write is referenced: every placed shard is there.
    # (The test put it 3 per zone, over the cap: rebalance may be moving shards
    # to zone-safe nodes, each by copy, placement CAS, then delete.)
    def racing_whole() -> bool:
        racing = run(_versions(own_cluster, bucket, ["racing"]))[0]
        return len(racing.placement) == 6 and all(
            f"{in_flight}.{loc.shard_index}" in shard_files(own_cluster, loc.node_id)
            for loc in racing.placement
        )

    wait_for(racing_whole, 30, "every placed shard of the committed write on its node")
    assert s3.get_object(Bucket=bucket, Key="racing")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="over")["Body"].read() == b"y" * 50_000


def test_drain_moves_every_shard_off_while_writes_go_on(own_cluster: LocalCluster) -> None:
    s3 = s3_client(own_cluster)
    bucket = f"drain-{uuid.uuid4().hex[:8]}"
    objects = put_objects(s3, bucket, [200 * KiB] * 12)
    drained = "node-b2"
    assert shard_files(own_cluster, drained)
    print(admin(own_cluster, "node", "drain", drained))
    written = 0
    deadline = time.monotonic() + 60
    # A few writes even when the drain is done first (it can be, on a small
    # bucket): writes after it must not land on the drained node either.
    while (written < 3 or shard_files(own_cluster, drained)) and time.monotonic() < deadline:
        key = f"during-{written}"
        body = os.urandom(50 * KiB)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        objects[key] = body
        written += 1
    assert not shard_files(own_cluster, drained), "the draining node still holds shards"
    assert written > 0
    view = run(_map(own_cluster))
    zone_of = {n.node_id: n.zone for n in view.nodes}
    for v in run(_versions(own_cluster, bucket, sorted(objects))):
        nodes = [loc.node_id for loc in v.placement]
        assert drained not in nodes and len(set(nodes)) == 6
        assert max(Counter(zone_of[n] for n in nodes).values()) <= zone_cap(v.geometry, 3)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
