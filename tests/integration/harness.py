"""Starting a real cluster for a test, and boto3 clients for it."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.config import Config

from cli.local_cluster import Layout, LocalCluster

VHOST_DOMAIN = "s3.tessera.test"  # the shared cluster's domain for bucket.<domain> addressing
WEBSITE_DOMAIN = "web.tessera.test"  # the shared cluster's domain for bucket.<domain> websites


def s3_client(cluster: LocalCluster, verify: str | None = None, **config: object):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        verify=verify,
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(
            **{  # type: ignore[arg-type]
                "s3": {"addressing_style": "path"},
                "retries": {"max_attempts": 1, "mode": "standard"},
                "connect_timeout": 10,
                "read_timeout": 120,
                **config,
            }
        ),
    )


def start_cluster(data_dir: Path, extra_env: dict[str, str] | None = None) -> LocalCluster:
    layout = Layout.with_free_ports(data_dir)
    layout.extra_env.update(extra_env or {})
    cluster = LocalCluster(layout)
    cluster.start()
    try:
        cluster.wait_ready(90)
    except BaseException:
        cluster.stop()
        for name in cluster.names():
            path = cluster.log_path(name)
            if path.exists():
                print(f"---- {name} log ----\n{path.read_text()[-3000:]}")
        raise
    return cluster


def start_small_54(
    data_dir: Path,
    extra_env: dict[str, str],
    nodes_per_zone: int = 3,
) -> LocalCluster:
    """The smallest layout the default three-zone geometry (5+4) fits: 3 zones x
    3 nodes, one unreplicated metadata service (light on a shared machine; the
    repair leader's code is the same with replicas)."""
    layout = Layout.with_free_ports(
        data_dir, zones=3, nodes_per_zone=nodes_per_zone, metadata_replicas=0
    )
    layout.data_shards, layout.parity_shards = 5, 4
    layout.extra_env.update(extra_env)
    cluster = LocalCluster(layout)
    cluster.start()
    try:
        cluster.wait_ready(120)
    except BaseException:
        cluster.stop()
        raise
    return cluster
