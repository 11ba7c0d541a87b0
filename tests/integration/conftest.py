"""A real cluster for integration tests: every role a process on 127.0.0.1
with free ports, talked to with boto3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import VHOST_DOMAIN, WEBSITE_DOMAIN, s3_client, start_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One cluster shared by the tests that do not break it."""
    c = start_cluster(
        tmp_path_factory.mktemp("cluster"),
        {"TESSERA_DOMAIN": VHOST_DOMAIN, "TESSERA_WEBSITE_DOMAIN": WEBSITE_DOMAIN},
    )
    yield c
    c.stop()


@pytest.fixture(scope="session")
def s3(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return s3_client(cluster)
