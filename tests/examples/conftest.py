"""Fixtures for the example apps' browser tests: a cluster of their own, and
the console tests' headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium; screenshots in test-artifacts/examples/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from tests.console.conftest import browser, downloads  # noqa: F401  (the same browser setup)
from tests.integration.harness import start_cluster

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "examples"


@pytest.fixture(scope="module")
def app_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path_factory.mktemp("examples-cluster"))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
