"""Entry point of the `tessera` console script.

tessera metadata | node | gateway   run one role (flags or TESSERA_* vars)
tessera up                          run a whole local cluster
tessera admin ...                   operate a running cluster (cli/admin.py)
tessera chaos list | run            the chaos harness (chaos/cli.py)
"""

from __future__ import annotations

import argparse
import os
import sys

from service.grpc_tuning import prefer_posix_endpoints
from tessera import config


def _role_parser(sub: argparse._SubParsersAction, name: str, settings: type, text: str) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(name, help=text, description=text)
    config.add_arguments(p, settings)
    p.set_defaults(role=name, settings_type=settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tessera", description="Tessera object store")
    sub = parser.add_subparsers(dest="command", required=True)
    _role_parser(sub, "metadata", config.MetadataSettings, "run a metadata service replica")
    _role_parser(sub, "node", config.NodeSettings, "run a storage node")
    _role_parser(sub, "gateway", config.GatewaySettings, "run an S3 gateway")
    up = sub.add_parser(
        "up", help="run a local cluster: etcd, metadata, 9 nodes in 3 zones (5+4), a gateway"
    )
    up.add_argument("--data-dir", default=os.environ.get("TESSERA_DATA_DIR", "./data"))
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=9000, help="S3 port (admin/metrics: port+1)")
    up.add_argument(
        "--base-port",
        type=int,
        default=9100,
        help="first of the internal ports (metadata, then nodes)",
    )
    up.add_argument(
        "--website-port",
        type=int,
        default=int(os.environ.get("TESSERA_WEBSITE_PORT", "0")),
        help="static website port (default: port+2; -1: none)",
    )
    up.add_argument("--zones", type=int, default=3)
    up.add_argument("--nodes-per-zone", type=int, default=4)
    up.add_argument(
        "--storage-classes",
        default=os.environ.get("TESSERA_STORAGE_CLASSES", ""),
        help="NAME=k+m,... (default: STANDARD for the layout and REDUCED_REDUNDANCY; "
        "docs/storage-classes.md)",
    )
    up.set_defaults(role="up")
    from cli.admin import add_parser as add_admin

    add_admin(sub)
    chaos = sub.add_parser("chaos", help="break a local cluster on a seeded schedule, report")
    chaos.set_defaults(role="chaos")
    chaos.add_argument("chaos_args", nargs=argparse.REMAINDER, help="list | run … (see --help)")
    return parser


def main(argv: list[str] | None = None) -> None:
    prefer_posix_endpoints()  # before anything imports grpc (service/grpc_tuning.py)
    args = build_parser().parse_args(argv)
    if args.role == "admin":
        from cli.admin import run_admin

        sys.exit(run_admin(args))
    if args.role == "up":
        from cli.up import run_up

        sys.exit(run_up(args))
    if args.role == "chaos":
        from chaos.cli import main as run_chaos

        run_chaos(args.chaos_args)
    settings = config.load(args.settings_type, vars(args), os.environ)
    if args.role == "metadata":
        from metadata.main import main as run
    elif args.role == "node":
        from node.main import main as run  # type: ignore[assignment]
    else:
        from gateway.main import main as run  # type: ignore[assignment]
    run(settings)


if __name__ == "__main__":
    main()
