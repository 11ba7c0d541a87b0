"""Adding a node rebalances gradually: about 1/N of the shards move onto the
new node (throttled by the repair rate), each by copy, compare-and-set of the
placement, then delete of the old copy; reads and writes go on meanwhile,
the zone rule holds and every object reads back byte-identical.

The cluster is 3 zones x 3 nodes with the default three-zone geometry 5+4 and
one unreplicated metadata service (the repair leader's code is the same with
replicas; the smaller cluster keeps this test light on a shared machine)."""

from __future__ import annotations

import math
import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from tessera.model import ObjectVersion
from tessera.placement import zone_cap
from tessera.repair_plan import shard_sets_of
from tests.console.console_http import ConsoleHttp
from tests.integration.harness import s3_client, start_small_54
from tests.integration.test_repair import (
    FAST,
    _map,
    _versions,
    admin,
    on_ideal_nodes,
    run,
    shard_files,
    wait_for,
)

pytestmark = pytest.mark.integration

KiB = 1024
OBJECTS = 60


@pytest.fixture
def cluster_54(tmp_path: Path) -> Iterator[LocalCluster]:
    c = start_small_54(tmp_path / "cluster", FAST)
    yield c
    c.stop()


def slots(versions: list[ObjectVersion]) -> dict[tuple[str, int], str]:
    """(shard set id, shard index) -> node id over every version."""
    return {
        (s.shard_set_id, loc.shard_index): loc.node_id
        for v in versions
        for s in shard_sets_of(v)
        for loc in s.placement
    }


def test_adding_a_node_moves_its_share_and_nothing_else(cluster_54: LocalCluster) -> None:
    s3 = s3_client(cluster_54)
    bucket = f"grow-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    objects = {}
    for i in range(OBJECTS):
        body = os.urandom(200 * KiB + i)
        s3.put_object(Bucket=bucket, Key=f"obj-{i}", Body=body)
        objects[f"obj-{i}"] = body
    keys = sorted(objects)
    before = slots(run(_versions(cluster_54, bucket, keys)))
    # Slow the move down (the runtime repair rate governs it too) so that the
    # reads and writes below overlap it: ~45 shards of 40 KiB at 256 KiB/s.
    admin(cluster_54, "repair", "rate", str(256 * KiB))

    failures: list[BaseException] = []
    written: dict[str, bytes] = {}
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            try:
                key = keys[n % len(keys)]
                got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                assert got == objects[key], key
                body = os.urandom(30 * KiB)
                s3.put_object(Bucket=bucket, Key=f"during-{n}", Body=body)
                written[f"during-{n}"] = body
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)
                return
            n += 1

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        new = cluster_54.add_node("zone-a")
        started = time.monotonic()
        moving = admin(cluster_54, "repair", "status")
        wait_for(
            lambda: on_ideal_nodes(cluster_54, bucket, keys), 120, "every set on its ideal nodes"
        )
        took = time.monotonic() - started
    finally:
        stop.set()
        worker.join(60)
    assert not failures, failures
    assert len(written) > 0

    after = slots(run(_versions(cluster_54, bucket, keys)))
    assert after.keys() == before.keys()
    moved = [slot for slot in before if before[slot] != after[slot]]
    assert all(after[slot] == new for slot in moved), "a shard moved somewhere but the new node"
    # The arithmetic (docs/placement.md): 5+4 over three equal zones puts exactly 3
    # shards of every set in each zone, so the 4th node of zone-a holds 3 of a
    # set's 9 shards with probability 3/4: it gets 1/(zones x nodes in its zone)
    # = 1/12 of all shards (= 1/N for equal zones). Set ids are random, so the
    # count is binomial: 4 standard deviations either side.
    p = 3 / 4
    expected = OBJECTS * p
    spread = 4 * math.sqrt(OBJECTS * p * (1 - p))
    print(
        f"moved {len(moved)} of {len(before)} shards ({len(moved) / len(before):.3f}; "
        f"1/12 = {1 / 12:.3f}) in {took:.1f} s at 256 KiB/s; "
        f"{len(written)} PUTs and as many GETs during the move"
    )
    assert abs(len(moved) - expected) <= spread, (len(moved), expected, spread)

    view = run(_map(cluster_54))
    zone_of = {n.node_id: n.zone for n in view.nodes}
    versions = run(_versions(cluster_54, bucket, keys))
    cap = zone_cap(versions[0].geometry, 3)
    for v in versions:
        nodes = [loc.node_id for loc in v.placement]
        assert len(set(nodes)) == 9
        assert max(Counter(zone_of[n] for n in nodes).values()) <= cap
    held = shard_files(cluster_54, new)
    for set_id, index in moved:
        assert f"{set_id}.{index}" in held
    # The old copies are deleted right after each compare-and-set.
    wait_for(
        lambda: (
            not any(
                f"{set_id}.{index}" in shard_files(cluster_54, before[(set_id, index)])
                for set_id, index in moved
            )
        ),
        30,
        "the old copies to be deleted",
    )
    for key, body in {**objects, **written}.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    status = admin(cluster_54, "repair", "status")
    print(moving, status, sep="\n")
    found = re.search(r"rebalance: +0 shards to move .*, (\d+) moved", status)
    assert found is not None, status
    assert int(found.group(1)) >= len(moved)  # ours, and the first writes' during the join
    # The web console's repair panel shows the same progress.
    console = ConsoleHttp(cluster_54)
    console.sign_in(cluster_54)
    code, panel = console.call("GET", "/api/cluster/repair")
    assert code == 200, panel
    assert panel["rebalance_queue_shards"] == 0
    assert panel["rebalanced_shards_total"] == int(found.group(1))
    assert panel["rebalanced_bytes_total"] > 0


def test_a_rebalance_cut_by_a_crash_loses_and_leaks_nothing(cluster_54: LocalCluster) -> None:
    """The metadata service (the repair leader) is SIGKILLed in the middle of
    a rebalance and restarted: the moves resume from the state, every object
    reads back byte-identical, and once GC's grace period has passed every
    shard file on every node is one a placement names (no copy left behind
    by a move that was cut between its copy, its compare-and-set and its
    delete)."""
    s3 = s3_client(cluster_54)
    bucket = f"crash-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    objects = {f"obj-{i}": os.urandom(200 * KiB + i) for i in range(OBJECTS)}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    keys = sorted(objects)
    admin(cluster_54, "repair", "rate", str(128 * KiB))
    new = cluster_54.add_node("zone-c")
    wait_for(lambda: len(shard_files(cluster_54, new)) >= 5, 60, "a few moves done")
    assert not on_ideal_nodes(cluster_54, bucket, keys)  # ~45 moves at ~3 a second
    cluster_54.kill("metadata")
    cluster_54.start_process("metadata")
    cluster_54.wait_ready(60, ["metadata"])
    wait_for(lambda: on_ideal_nodes(cluster_54, bucket, keys), 180, "the rebalance to finish")

    def only_placed_shards_left() -> bool:
        placed = {
            (node_id, f"{set_id}.{index}")
            for (set_id, index), node_id in slots(run(_versions(cluster_54, bucket, keys))).items()
        }
        stored = {
            (node_id, name)
            for node_id, _ in cluster_54.layout.node_names()
            for name in shard_files(cluster_54, node_id)
        }
        return stored == placed

    wait_for(only_placed_shards_left, 60, "every stored shard to be a placed one (GC)")
    assert shard_files(cluster_54, new)
    for key, body in objects.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
