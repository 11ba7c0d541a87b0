"""Two storage classes in one cluster keep their own promises: on 3 zones x 3
nodes, STANDARD is 5+4 (survives a zone plus one node) and REDUCED_REDUNDANCY
4+2 (survives a zone, with nothing to spare). A node lost for good: repair
rebuilds every REDUCED_REDUNDANCY set to its own 6 shards (STANDARD's 9 cannot
be placed on 8 nodes at 3 per zone and wait), and `tessera admin repair status`
counts each set's margin against its own k. Then a whole zone goes too: every
object of both classes still reads, byte for byte."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter

import pytest

from tessera.model import NODE_DOWN
from tests.integration.harness import s3_client, start_small_54
from tests.integration.test_repair import (
    FAST,
    KiB,
    MiB,
    _map,
    _versions,
    admin,
    run,
    shard_files,
    wait_for,
)
from tests.integration.test_storage_classes import shards_on_nodes

pytestmark = pytest.mark.integration

RRS = "REDUCED_REDUNDANCY"
VICTIM = "node-c1"
ZONE_A = ["node-a1", "node-a2", "node-a3"]


def margins(status: str) -> dict[str, int]:
    """The "objects by margin" counts of `tessera admin repair status`."""
    line = next(x for x in status.splitlines() if x.startswith("objects by margin:"))
    return {
        label: int(count) for label, count in re.findall(r"(\S+): (\d+)", line.split(":", 1)[1])
    }


def test_each_class_survives_what_it_promises_and_repairs_to_its_own_width(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = start_small_54(tmp_path / "cluster", FAST)
    try:
        s3 = s3_client(cluster)
        bucket = f"loss-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        sizes = [5000, 300 * KiB, MiB + 1, 3 * MiB + 7, 64 * KiB, 700 * KiB]
        objects: dict[str, tuple[str, bytes]] = {}
        for storage_class in ("STANDARD", RRS):
            for i, size in enumerate(sizes):
                key = f"{storage_class.lower()}-{i}"
                body = os.urandom(size)
                s3.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=storage_class)
                objects[key] = (storage_class, body)
        keys = sorted(objects)
        width = {"STANDARD": 9, RRS: 6}
        for v in run(_versions(cluster, bucket, keys)):
            n = width[objects[v.key][0]]
            assert v.geometry.total_shards == n
            wait_for(
                lambda v=v, n=n: shards_on_nodes(cluster, v.version_id) == Counter(range(n)),
                60,
                f"{v.key}: one shard file of each index 0..{n - 1}",
            )

        cluster.kill(VICTIM)
        wait_for(lambda: run(_map(cluster)).node(VICTIM).state == NODE_DOWN, 60, f"{VICTIM} down")

        def reduced_repaired() -> bool:
            return all(
                len({loc.node_id for loc in v.placement}) == 6
                and VICTIM not in {loc.node_id for loc in v.placement}
                for v in run(_versions(cluster, bucket, keys))
                if objects[v.key][0] == RRS
            )

        wait_for(reduced_repaired, 120, "every REDUCED_REDUNDANCY set back to 6 live shards")
        view = run(_map(cluster))
        zone_of = {n.node_id: n.zone for n in view.nodes}
        for v in run(_versions(cluster, bucket, keys)):
            nodes = [loc.node_id for loc in v.placement]
            if objects[v.key][0] == RRS:
                # its own k+m again, 2 per zone at most, each shard really on its node
                assert (v.data_shards, v.parity_shards) == (4, 2)
                assert max(Counter(zone_of[n] for n in nodes).values()) <= 2
                for loc in v.placement:
                    assert f"{v.version_id}.{loc.shard_index}" in shard_files(cluster, loc.node_id)
            else:
                # 9 shards at 3 per zone do not fit on 8 nodes: STANDARD waits, at margin 3
                assert (v.data_shards, v.parity_shards) == (5, 4)
        sets = len(sizes)
        # Margins are shards present minus each set's own k: RRS 6 - 4, STANDARD 8 - 5.
        wait_for(
            lambda: (lambda m: m.get("2") == sets and m.get("3") == sets)(
                margins(admin(cluster, "repair", "status"))
            ),
            60,
            "the repair status counting every set against its own k",
        )
        status = admin(cluster, "repair", "status")
        print(status)
        assert margins(status) == {"lost": 0, "0": 0, "1": 0, "2": sets, "3": sets, "4+": 0}

        # A whole zone more: REDUCED_REDUNDANCY loses at most its 2 per zone
        # (4 = k left), STANDARD its 3 there on top of the node (5 = k left).
        for name in ZONE_A:
            cluster.kill(name)
        for key, (_, body) in objects.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    finally:
        cluster.stop()
