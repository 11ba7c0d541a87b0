"""A whole zone and one more node lost at once, with the default three-zone
geometry 5+4 on its smallest layout (3 zones x 3 nodes: every shard set has
exactly 3 shards per zone). Losing zone-a and node-b1 leaves 5 shards of
every set, exactly k: everything still reads. Four replacement nodes join the
running cluster (3 in zone-a, 1 in zone-b) and repair rebuilds the 4 missing
shards of every set onto them: full redundancy again, zone rule intact."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from tessera.model import NODE_DOWN, NODE_UP
from tessera.placement import zone_cap
from tests.integration.harness import s3_client, start_small_54
from tests.integration.test_repair import (
    FAST,
    KiB,
    MiB,
    _expected_shard,
    _map,
    _read_shard,
    _versions,
    admin,
    put_objects,
    run,
    shard_files,
    wait_for,
)

pytestmark = pytest.mark.integration

LOST = ["node-a1", "node-a2", "node-a3", "node-b1"]


def test_zone_plus_one_then_replacements_restore_full_redundancy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = start_small_54(tmp_path / "cluster", FAST)
    try:
        s3 = s3_client(cluster)
        bucket = f"zone-{uuid.uuid4().hex[:8]}"
        objects = put_objects(s3, bucket, [4097, 5000, MiB + 1, 6 * MiB + 3] + [60 * KiB] * 12)
        keys = sorted(objects)
        for name in LOST:
            cluster.kill(name)

        def lost_are_down() -> bool:
            view = run(_map(cluster))
            return all(view.node(n).state == NODE_DOWN for n in LOST)

        wait_for(lost_are_down, 60, "the lost nodes marked down")
        # Every set is down to k = 5 shards and still reads, byte for byte.
        for key, body in objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        sets = len(keys)  # one shard set per object (none is empty)
        wait_for(
            lambda: f"0: {sets}  1: 0" in admin(cluster, "repair", "status"),
            30,
            "every set counted at margin 0",
        )
        print(admin(cluster, "repair", "status"))

        started = time.monotonic()
        added = [cluster.add_node("zone-a") for _ in range(3)] + [cluster.add_node("zone-b")]

        def whole() -> bool:
            return all(
                len({loc.node_id for loc in v.placement}) == 9
                and not {loc.node_id for loc in v.placement} & set(LOST)
                for v in run(_versions(cluster, bucket, keys))
            )

        wait_for(whole, 180, "every set back to 9 shards on live nodes")
        print(
            f"full redundancy {time.monotonic() - started:.1f} s after the replacements "
            f"{added} started"
        )
        view = run(_map(cluster))
        zone_of = {n.node_id: n.zone for n in view.nodes}
        assert all(view.node(n).state == NODE_UP for n in added)
        for v in run(_versions(cluster, bucket, keys)):
            nodes = [loc.node_id for loc in v.placement]
            assert max(Counter(zone_of[n] for n in nodes).values()) <= zone_cap(v.geometry, 3)
            assert set(added) <= set(nodes)  # the 4 rebuilt shards are on the new nodes
            for loc in v.placement:
                assert f"{v.version_id}.{loc.shard_index}" in shard_files(cluster, loc.node_id)
                if loc.node_id in added and v.size_bytes > 1:
                    got = run(_read_shard(cluster, loc.node_id, v.version_id, loc.shard_index))
                    assert got == _expected_shard(objects[v.key], v.geometry, loc.shard_index)
        for key, body in objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        s3.put_object(Bucket=bucket, Key="after", Body=b"x" * 70_000)
        assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"x" * 70_000
        # The new set is counted once a repair scan has run after its PUT.
        wait_for(
            lambda: (
                f"lost: 0  0: 0  1: 0  2: 0  3: 0  4+: {sets + 1}"
                in admin(cluster, "repair", "status")
            ),
            30,
            "the new set counted at full margin",
        )
        print(admin(cluster, "repair", "status"))
    finally:
        cluster.stop()
