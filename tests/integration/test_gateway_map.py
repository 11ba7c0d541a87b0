"""The gateway exports the cluster map it places objects with
(tessera_gateway_cluster_map_nodes by state, tessera_gateway_cluster_map_epoch),
and a started LocalCluster is ready only once that map has every node up
(cli/local_cluster.py wait_ready): objects written right after the start are
placed on every node, with nothing left for the rebalance to move."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import gateway_metric, s3_client, start_cluster
from tests.integration.test_repair import on_ideal_nodes

pytestmark = pytest.mark.integration


def test_the_gateway_reports_its_map(cluster: LocalCluster) -> None:
    nodes = len(cluster.layout.node_names())
    assert gateway_metric(cluster, 'tessera_gateway_cluster_map_nodes{state="up"}') == nodes
    assert gateway_metric(cluster, 'tessera_gateway_cluster_map_nodes{state="down"}') == 0
    assert gateway_metric(cluster, "tessera_gateway_cluster_map_epoch") >= 1


def test_objects_written_at_once_after_the_start_are_on_their_ideal_nodes(
    tmp_path: Path,
) -> None:
    fresh = start_cluster(tmp_path / "cluster")
    try:
        s3 = s3_client(fresh)
        bucket = f"map-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        keys = [f"k{i}" for i in range(8)]
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(64 * 1024))
        assert on_ideal_nodes(fresh, bucket, keys)
    finally:
        fresh.stop()
