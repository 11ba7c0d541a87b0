"""The committed gRPC stubs match proto/tessera.proto."""

from __future__ import annotations

import pathlib

from proto.build import ROOT, generate


def test_committed_stubs_are_fresh(tmp_path: pathlib.Path) -> None:
    generate(tmp_path)
    for name in ("tessera_pb2.py", "tessera_pb2_grpc.py", "tessera_pb2.pyi"):
        fresh = (tmp_path / "proto" / name).read_text()
        committed = (ROOT / "proto" / name).read_text()
        assert fresh == committed, f"proto/{name} is stale: run python -m proto.build"
