"""Regenerates the protobuf and gRPC stubs from the .proto files under proto/.

PROTOS lists them: tessera.proto (our own services) and the part of etcd's v3
API that metadata/etcd.py speaks (proto/etcd/). The stubs are committed so
that a fresh clone runs without a build step; the unit test
tests/unit/proto/test_stubs_fresh.py regenerates them into a temporary folder
and fails when the committed copies are stale.
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Relative to ROOT; each yields <name>_pb2.py, <name>_pb2.pyi and <name>_pb2_grpc.py.
PROTOS = ("proto/tessera.proto", "proto/etcd/kv.proto", "proto/etcd/rpc.proto")


def stub_paths() -> list[str]:
    """Every generated file, relative to ROOT."""
    return [
        proto.removesuffix(".proto") + suffix
        for proto in PROTOS
        for suffix in ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")
    ]


def generate(out_dir: pathlib.Path) -> None:
    """Writes the stubs of every file in PROTOS under out_dir (proto/..., as in the tree)."""
    from grpc_tools import protoc  # build-time dependency only

    out_dir.mkdir(parents=True, exist_ok=True)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--pyi_out={out_dir}",
            *(str(ROOT / proto) for proto in PROTOS),
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


if __name__ == "__main__":
    generate(ROOT if len(sys.argv) < 2 else pathlib.Path(sys.argv[1]))
