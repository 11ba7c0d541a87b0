"""Nodes leave the cluster map for good, and parts of uploads in progress heal.

Each test starts its own small cluster (3 zones x 3 nodes, 4+2, one
unreplicated metadata service, short grace periods):

- a node that still holds shards is not removed (the message counts the
  placements, those of an upload's part included); drained (the part too),
  it is; a removed node that is still running is
  refused when it registers again, until it is readmitted;
- a node killed for good is force-removed while repair is held back; repair
  then rebuilds every set it was in, committed versions and the parts of an
  upload started before it died; the upload completes and reads back
  byte-identical;
- a zone whose nodes are all dead keeps counting in the zone cap, so nothing
  rebalances onto a new node; once those nodes are removed, rebalance runs.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from cli.local_cluster import Layout, LocalCluster
from tessera.model import NODE_DOWN, NODE_UP, Segment
from tessera.repair_plan import ideal_nodes, shard_sets_of
from tests.integration.harness import run_admin, s3_client, start_layout
from tests.integration.test_repair import (
    FAST,
    KiB,
    MiB,
    _expected_shard,
    _map,
    _read_shard,
    _versions,
    admin,
    meta,
    put_objects,
    run,
    shard_files,
    wait_for,
)

pytestmark = pytest.mark.integration


def start(data_dir: Path, extra: dict[str, str] | None = None) -> LocalCluster:
    layout = Layout.with_free_ports(data_dir, zones=3, nodes_per_zone=3, metadata_replicas=0)
    layout.data_shards, layout.parity_shards = 4, 2
    layout.extra_env.update({**FAST, **(extra or {})})
    return start_layout(layout)


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = start(tmp_path / "cluster")
    yield c
    c.stop()


def placements_naming(cluster: LocalCluster, bucket: str, keys: list[str], node_id: str) -> int:
    return sum(
        1
        for v in run(_versions(cluster, bucket, keys))
        for s in shard_sets_of(v)
        for loc in s.placement
        if loc.node_id == node_id
    )


def node_ids(cluster: LocalCluster) -> set[str]:
    return {n.node_id for n in run(_map(cluster)).nodes}


def test_drain_then_remove_and_a_removed_node_is_refused(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster)
    bucket = f"rm-{uuid.uuid4().hex[:8]}"
    objects = put_objects(s3, bucket, [70 * KiB] * 10 + [MiB + 3, 3 * MiB])
    keys = sorted(objects)
    # An upload in progress: its part is drained like a version's shards.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part_body = os.urandom(MiB + 11)
    etag = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=part_body
    )["ETag"]

    [part] = run(_parts(cluster, bucket, "mp", upload_id))
    leaving = sorted(loc.node_id for loc in part.placement)[-1]  # it holds a shard of the part

    def naming_now() -> int:
        in_parts = sum(
            1
            for p in run(_parts(cluster, bucket, "mp", upload_id))
            for loc in p.placement
            if loc.node_id == leaving
        )
        return placements_naming(cluster, bucket, keys, leaving) + in_parts

    # Up and holding shards: refused, with the count of placements naming it.
    # (A write placed while the cluster was starting may still be rebalancing:
    # compare with a count that did not change around the call.)
    for _ in range(30):
        naming = naming_now()
        refused = run_admin(cluster, "node", "remove", leaving, check=False)
        if naming_now() == naming:
            break
    assert naming > 0
    assert refused.returncode == 1, refused
    assert f"still holds {naming} shard placements" in refused.stderr, refused.stderr
    assert leaving in node_ids(cluster)

    admin(cluster, "node", "drain", leaving)
    wait_for(
        lambda: naming_now() == 0 and not shard_files(cluster, leaving),
        120,
        "the drained node to hold nothing",
    )
    out = admin(cluster, "node", "remove", leaving)
    assert f"node {leaving} removed" in out, out
    view = run(_map(cluster))
    assert leaving not in {n.node_id for n in view.nodes}
    # The removed node is still running: its heartbeats and registrations are refused.
    wait_for(
        lambda: "was removed from the cluster map" in cluster.log_path(leaving).read_text(),
        60,
        "the removed node to be refused",
    )
    assert leaving not in node_ids(cluster)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    s3.put_object(Bucket=bucket, Key="after", Body=b"y" * 90_000)
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"y" * 90_000
    assert placements_naming(cluster, bucket, ["after"], leaving) == 0
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == part_body

    # Removing it again is a no-op (a retry); an unknown node is an error;
    # readmitted, the removed node joins as a new, up node.
    again = run_admin(cluster, "node", "remove", leaving, check=False)
    assert again.returncode == 0, again
    unknown = run_admin(cluster, "node", "remove", "node-z9", check=False)
    assert unknown.returncode == 1 and "no node" in unknown.stderr, unknown
    admin(cluster, "node", "readmit", leaving)

    def back_up() -> bool:
        node = run(_map(cluster)).node(leaving)
        return node is not None and node.state == NODE_UP

    wait_for(back_up, 60, "the readmitted node to register")


async def _parts(cluster: LocalCluster, bucket: str, key: str, upload_id: str) -> list[Segment]:
    async with meta(cluster) as client:
        page = await client.list_parts(bucket, key, upload_id, 0, 1000, timeout=10)
        return list(page.parts)


def test_forced_removal_of_a_dead_node_then_repair_heals_versions_and_parts(
    cluster: LocalCluster,
) -> None:
    s3 = s3_client(cluster)
    bucket = f"dead-{uuid.uuid4().hex[:8]}"
    objects = put_objects(s3, bucket, [70 * KiB] * 8 + [2 * MiB + 1])
    keys = sorted(objects)
    key = "big"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    bodies = [os.urandom(5 * MiB), os.urandom(MiB + 7)]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=i + 1, Body=b)["ETag"]
        for i, b in enumerate(bodies)
    ]
    parts = run(_parts(cluster, bucket, key, upload_id))
    # The node to lose: one that holds a shard of every part.
    holders = [{loc.node_id for loc in p.placement} for p in parts]
    dead = sorted(set.intersection(*holders))[0]

    # --force is for a dead node only.
    refused = run_admin(cluster, "node", "remove", "--force", dead, check=False)
    assert refused.returncode == 1 and "not down" in refused.stderr, refused

    admin(cluster, "repair", "rate", "1")  # hold repair back (one shard at most)
    cluster.kill(dead)
    wait_for(
        lambda: run(_map(cluster)).node(dead).state == NODE_DOWN,  # type: ignore[union-attr]
        60,
        "the killed node marked down",
    )
    out = admin(cluster, "node", "remove", "--force", dead)
    assert f"node {dead} removed" in out and "shard placements" in out, out
    assert dead not in node_ids(cluster)
    for k, body in objects.items():  # before repair: decoded around the removed node
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body, k
    admin(cluster, "repair", "rate", "0")  # the configured rate again

    def healed() -> bool:
        sets = [s for v in run(_versions(cluster, bucket, keys)) for s in shard_sets_of(v)]
        now_parts = run(_parts(cluster, bucket, key, upload_id))
        placements = [s.placement for s in sets] + [p.placement for p in now_parts]
        return all(
            len({loc.node_id for loc in placement}) == 6
            and dead not in {loc.node_id for loc in placement}
            for placement in placements
        )

    wait_for(healed, 180, "every set and part back to 6 shards without the dead node")
    alive = node_ids(cluster)
    for part, body in zip(run(_parts(cluster, bucket, key, upload_id)), bodies, strict=True):
        for loc in part.placement:
            assert loc.node_id in alive
            got = run(_read_shard(cluster, loc.node_id, part.shard_set_id, loc.shard_index))
            assert got == _expected_shard(body, part.geometry, loc.shard_index), (part, loc)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(bodies)
    for k, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body, k
    print(admin(cluster, "repair", "status"))


def test_a_dead_zone_removed_no_longer_blocks_rebalance(tmp_path: Path) -> None:
    cluster = start(tmp_path / "cluster")
    try:
        s3 = s3_client(cluster)
        bucket = f"zone-{uuid.uuid4().hex[:8]}"
        objects = put_objects(s3, bucket, [70 * KiB] * 16)
        keys = sorted(objects)
        dead = ["node-c1", "node-c2", "node-c3"]
        for name in dead:
            cluster.kill(name)

        def repaired() -> bool:
            return all(
                len({loc.node_id for loc in s.placement}) == 6
                and not {loc.node_id for loc in s.placement} & set(dead)
                for v in run(_versions(cluster, bucket, keys))
                for s in shard_sets_of(v)
            )

        # Two zones are left: repair puts 3 shards in each (the cap with two zones up).
        wait_for(repaired, 180, "the dead zone's shards rebuilt in the other two")
        added = cluster.add_node("zone-a")
        # With zone-c still in the map its cap (2 per zone) counts: no ideal placement.
        view = run(_map(cluster))
        nodes = {n.node_id: n for n in view.nodes}
        sets = [s for v in run(_versions(cluster, bucket, keys)) for s in shard_sets_of(v)]
        assert all(ideal_nodes(s, nodes) is None for s in sets)
        for name in dead:
            admin(cluster, "node", "remove", name)  # down, and no placement names it
        view = run(_map(cluster))
        assert not {n.node_id for n in view.nodes} & set(dead)
        nodes = {n.node_id: n for n in view.nodes}
        assert all(ideal_nodes(s, nodes) is not None for s in sets)
        assert any(added in (ideal_nodes(s, nodes) or []) for s in sets)

        def on_ideal_nodes() -> bool:
            now = [s for v in run(_versions(cluster, bucket, keys)) for s in shard_sets_of(v)]
            return all(
                set(ideal_nodes(s, nodes) or ()) == {loc.node_id for loc in s.placement}
                for s in now
            )

        wait_for(on_ideal_nodes, 180, "every set rebalanced onto its ideal nodes")
        assert any(
            added in {loc.node_id for loc in s.placement}
            for v in run(_versions(cluster, bucket, keys))
            for s in shard_sets_of(v)
        )
        for key, body in objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        print(admin(cluster, "repair", "status"))
    finally:
        cluster.stop()
