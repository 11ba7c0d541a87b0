"""`tessera up`: a local cluster in the foreground until Ctrl-C or SIGTERM.

Prints the endpoint and credentials once every role is ready; on a signal it
stops the gateway, the nodes, then metadata, each gracefully. A role that
dies is reported; the rest keep serving (that is what erasure coding is for).

STANDARD is placement.default_geometry for the layout and the cheaper
REDUCED_REDUNDANCY follows from it (docs/storage-classes.md), unless
--storage-classes says otherwise; a class the layout cannot place stops the
start before any process runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from cli.local_cluster import Layout, LocalCluster
from tessera.placement import default_geometry
from tessera.storage_class import LayoutFit, StorageClassError

READY_TIMEOUT_SECONDS = 120.0


def run_up(args: argparse.Namespace) -> int:
    k, m = default_geometry(args.zones, args.zones * args.nodes_per_zone)
    layout = Layout(
        data_dir=Path(args.data_dir),
        host=args.host,
        s3_port=args.port,
        admin_port=args.port + 1,
        metadata_port=args.base_port,
        metadata_http_port=args.base_port + 1,
        node_base_port=args.base_port + 100,
        website_port=_website_port(args),
        zones=args.zones,
        nodes_per_zone=args.nodes_per_zone,
        data_shards=k,
        parity_shards=m,
        storage_classes=args.storage_classes,
    )
    clash = _website_clash(layout)
    if clash:
        print(f"tessera up: {clash}", file=sys.stderr)
        return 2
    try:
        fits = layout.storage_class_fits()
    except StorageClassError as exc:
        print(f"tessera up: {exc}", file=sys.stderr)
        return 2
    cluster = LocalCluster(layout)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cluster.start()
    try:
        try:
            cluster.wait_ready(READY_TIMEOUT_SECONDS)
        except (RuntimeError, TimeoutError) as exc:
            print(f"tessera up: the cluster did not start: {exc}", file=sys.stderr)
            return 1
        c = cluster.credentials
        print(
            "Tessera is up.\n"
            f"  S3 endpoint:  {cluster.endpoint}\n"
            f"  access key:   {c.access_key}\n"
            f"  secret key:   {c.secret_key}\n"
            f"  region:       us-east-1 (path-style addressing)\n"
            f"  layout:       {args.zones} zones x {args.nodes_per_zone} nodes\n"
            f"  storage classes (x-amz-storage-class):\n{_class_lines(fits)}"
            f"  console:      http://{layout.host}:{layout.admin_port}/console/\n"
            f"  websites:     {_website_line(cluster)}\n"
            f"  metrics:      http://{layout.host}:{layout.admin_port}/metrics\n"
            f"  data:         {cluster.data_dir}\n"
            f"  master key:   {cluster.master_key_file} (encryption at rest: back it up)\n"
            f"  logs:         {cluster.data_dir / 'logs'}\n"
            "Try: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... "
            f"aws --endpoint-url {cluster.endpoint} s3 ls\n"
            "Stop with Ctrl-C.",
            flush=True,
        )
        reported: set[str] = set()
        while not stopping:
            for name, proc in cluster.processes.items():
                if proc.poll() is not None and name not in reported:
                    reported.add(name)
                    print(
                        f"tessera up: {name} exited with {proc.returncode}; "
                        f"see {cluster.log_path(name)}",
                        file=sys.stderr,
                        flush=True,
                    )
            time.sleep(0.5)
        return 0
    finally:
        print("tessera up: stopping ...", file=sys.stderr, flush=True)
        cluster.stop()
        print("tessera up: stopped", file=sys.stderr, flush=True)


def _website_port(args: argparse.Namespace) -> int:
    if args.website_port < 0:
        return 0
    return args.website_port or args.port + 2


def _website_clash(layout: Layout) -> str:
    """Why the website port cannot be used with this layout ("" when it can)."""
    if not layout.website_port:
        return ""
    taken = {layout.s3_port, layout.admin_port}
    for index in range(len(layout.metadata_names())):
        taken.update(layout.metadata_port_pair(index))
    for index in range(len(layout.etcd_names())):
        taken.update(layout.etcd_port_pair(index))
    for index in range(len(layout.node_names())):
        taken.update(layout.node_port_pair(index))
    if layout.website_port in taken:
        return (
            f"the website port {layout.website_port} is one of the cluster's other ports: "
            "choose another with --website-port (or -1 for none)"
        )
    return ""


def _website_line(cluster: LocalCluster) -> str:
    if not cluster.layout.website_port:
        return "off"
    return f"{cluster.website_endpoint}/<bucket>/ (buckets with PutBucketWebsite)"


def _class_lines(fits: list[LayoutFit]) -> str:
    return "".join(f"    {fit.describe()}\n" for fit in fits)
