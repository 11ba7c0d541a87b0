"""Every role of a running cluster exports its event loop's lag
(service/loop_lag.py) on /metrics, and keeps sampling it."""

from __future__ import annotations

import time

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import role_metric

pytestmark = pytest.mark.integration

LAG_COUNT = "tessera_event_loop_lag_seconds_count"


def test_every_role_samples_its_event_loop_lag(cluster: LocalCluster) -> None:
    roles = [n for n in cluster.names() if cluster.role_of(n) != "etcd"]
    assert {cluster.role_of(n) for n in roles} == {"gateway", "metadata", "node"}
    before = {n: role_metric(cluster, n, LAG_COUNT) for n in roles}
    time.sleep(1.5)  # six sample periods
    after = {n: role_metric(cluster, n, LAG_COUNT) for n in roles}
    stalled = [n for n in roles if after[n] - before[n] < 3]
    assert not stalled, f"no lag samples from {stalled}: {before} -> {after}"
