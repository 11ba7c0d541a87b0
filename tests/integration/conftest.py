"""A real cluster for integration tests: every role a process on 127.0.0.1
with free ports, talked to with boto3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import VHOST_DOMAIN, WEBSITE_DOMAIN, s3_client, start_cluster

# A lifecycle "day" of LIFECYCLE_DAY_SECONDS, checked every second, so that
# test_lifecycle.py sees rules act within seconds (docs/lifecycle.md).
LIFECYCLE_DAY_SECONDS = 2
SHARED_CLUSTER_ENV = {
    "TESSERA_DOMAIN": VHOST_DOMAIN,
    "TESSERA_WEBSITE_DOMAIN": WEBSITE_DOMAIN,
    "TESSERA_LIFECYCLE_DAY_SECONDS": str(LIFECYCLE_DAY_SECONDS),
    "TESSERA_LIFECYCLE_INTERVAL_SECONDS": "1",
}


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One cluster shared by the tests that do not break it."""
    c = start_cluster(tmp_path_factory.mktemp("cluster"), SHARED_CLUSTER_ENV)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def s3(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return s3_client(cluster)
