"""Regenerates the protobuf and gRPC stubs from proto/tessera.proto.

The stubs are committed so that a fresh clone runs without a build step; the
unit test tests/unit/proto/test_stubs_fresh.py regenerates them into a
temporary folder and fails when the committed copies are stale.
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def generate(out_dir: pathlib.Path) -> None:
    """Writes proto/tessera_pb2.py and proto/tessera_pb2_grpc.py under out_dir."""
    from grpc_tools import protoc  # build-time dependency only

    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(ROOT / "proto" / "tessera.proto"),
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


if __name__ == "__main__":
    generate(ROOT if len(sys.argv) < 2 else pathlib.Path(sys.argv[1]))
