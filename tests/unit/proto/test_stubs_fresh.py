"""The committed gRPC stubs match the .proto files (proto/tessera.proto and
etcd's API in proto/etcd/)."""

from __future__ import annotations

import pathlib

from proto.build import ROOT, generate, stub_paths


def test_committed_stubs_are_fresh(tmp_path: pathlib.Path) -> None:
    generate(tmp_path)
    assert len(stub_paths()) == 9
    for name in stub_paths():
        fresh = (tmp_path / name).read_text()
        committed = (ROOT / name).read_text()
        assert fresh == committed, f"{name} is stale: run python -m proto.build"
