"""Renders of every overlay, shared by the deploy tests of one session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.manifests import Manifests, render


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Manifests]:
    workdir: Path = tmp_path_factory.mktemp("k8s-render")
    cache: dict[str, Manifests] = {}

    def get(overlay: str) -> Manifests:
        if overlay not in cache:
            cache[overlay] = render(overlay, workdir)
        return cache[overlay]

    return get
