"""Recycled shard files in a running cluster (node/spares.py): the shards
of deleted and overwritten objects are kept by the nodes and new objects
are written over them, and every object reads back exactly. (That a file
being read is never written over is tested through a node's GetShard
stream in tests/unit/node/test_spares.py: a GET through the gateway reads
later stripes with new calls, which find a deleted shard gone.)"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.harness import role_metric

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
SETTLE_SECONDS = 30.0


def nodes_total(cluster: LocalCluster, series: str) -> float:
    return sum(role_metric(cluster, name, series) for name, _ in cluster.layout.node_names())


def settled_shards(cluster: LocalCluster) -> float:
    """The nodes' shard count once no removal is under way (the shards of
    versions an earlier test deleted go a moment after its DELETEs): two
    readings half a second apart agree."""
    deadline = time.monotonic() + SETTLE_SECONDS
    last = nodes_total(cluster, "tessera_node_shards")
    while True:
        time.sleep(0.5)
        now = nodes_total(cluster, "tessera_node_shards")
        if now == last:
            return now
        assert time.monotonic() < deadline, "the nodes' shard count never settled"
        last = now


def wait_for_removal(cluster: LocalCluster, shards_at_most: float) -> None:
    """Waits until the nodes hold no more shards than that (the gateway
    removes a deleted version's shards a moment after the DELETE)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while nodes_total(cluster, "tessera_node_shards") > shards_at_most:
        assert time.monotonic() < deadline, "the deleted shards were not removed"
        time.sleep(0.1)


def test_new_objects_are_written_over_the_files_of_deleted_ones(cluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"spares-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    first = {f"old/{i}": os.urandom(MIB) for i in range(4)}
    stored = settled_shards(cluster)
    for key, body in first.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key in first:
        s3.delete_object(Bucket=bucket, Key=key)
    wait_for_removal(cluster, shards_at_most=stored)  # kept as spares
    assert nodes_total(cluster, "tessera_node_spare_files") >= 4
    reused = nodes_total(cluster, "tessera_node_spares_reused_total")

    second = {f"new/{i}": os.urandom(MIB) for i in range(4)}
    for key, body in second.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    # an overwrite frees the old version's shards for the next write too
    second["new/0"] = os.urandom(MIB)
    s3.put_object(Bucket=bucket, Key="new/0", Body=second["new/0"])
    assert nodes_total(cluster, "tessera_node_spares_reused_total") > reused
    for key, body in second.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    for key in first:
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=bucket, Key=key)
        assert caught.value.response["Error"]["Code"] == "NoSuchKey"
