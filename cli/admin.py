"""`tessera admin ...`: operator commands against a running cluster.

    tessera admin repair status           the repair leader's progress (as the metrics show it)
    tessera admin repair rate BYTES_PER_S change the repair rate at runtime (0: configured default)
    tessera admin node drain ID           move every shard off a node (then it may be removed)
    tessera admin node undrain ID         take a draining node back into placement
    tessera admin node remove ID [--force] take a drained (or dead, --force) node out of the map
    tessera admin node readmit ID         let a removed node's id register again (as a new node)
    tessera admin user|key|buckets|status users, access keys, overview (cli/admin_access.py)
    tessera admin bucket show|cache-control one bucket; its default Cache-Control (admin_buckets.py)
    tessera admin kms create|list         the keys of SSE-KMS (cli/admin_kms.py)
    tessera admin usage|quota             usage report, quotas (cli/admin_usage.py)
    tessera admin rebuild-metadata        buckets and versions from the nodes' shards
                                          after metadata was lost (cli/admin_rebuild.py)

The metadata address and cluster secret come from flags, TESSERA_METADATA_ADDRESS
and TESSERA_CLUSTER_SECRET, or (for `tessera up`) the cluster.json in --data-dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from cli import admin_access, admin_buckets, admin_kms, admin_rebuild, admin_usage
from metadata.client import MetadataClient
from proto import tessera_pb2 as pb
from tessera import errors

CALL_SECONDS = 10.0
REMOVE_SECONDS = 120.0  # the check reads every placement in the state
UP_METADATA_DEFAULT = "127.0.0.1:9100,127.0.0.1:9102,127.0.0.1:9104"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser("admin", help="operate a running cluster")
    admin.add_argument(
        "--metadata-address",
        default=os.environ.get("TESSERA_METADATA_ADDRESS", UP_METADATA_DEFAULT),
    )
    admin.add_argument("--cluster-secret", default=os.environ.get("TESSERA_CLUSTER_SECRET"))
    admin.add_argument("--data-dir", default=os.environ.get("TESSERA_DATA_DIR", "./data"))
    what = admin.add_subparsers(dest="admin_command", required=True)
    repair = what.add_parser("repair", help="repair progress and rate")
    repair_what = repair.add_subparsers(dest="repair_command", required=True)
    repair_what.add_parser("status", help="print the repair leader's progress")
    rate = repair_what.add_parser("rate", help="set the repair rate in bytes/s")
    rate.add_argument("bytes_per_second", type=float)
    node = what.add_parser("node", help="drain, undrain, remove or readmit a node")
    node_what = node.add_subparsers(dest="node_command", required=True)
    for name in ("drain", "undrain", "readmit"):
        p = node_what.add_parser(name)
        p.add_argument("node_id")
    remove = node_what.add_parser(
        "remove", help="take a node out of the cluster map (refused while placements name it)"
    )
    remove.add_argument("node_id")
    remove.add_argument(
        "--force",
        action="store_true",
        help="the node is dead for good: remove it while placements still name it, "
        "if every shard set stays readable without it (repair rebuilds them)",
    )
    admin_access.add_parsers(what)
    admin_buckets.add_parsers(what)
    admin_kms.add_parsers(what)
    admin_usage.add_parsers(what)
    admin_rebuild.add_parsers(what)
    admin.set_defaults(role="admin")


def _secret(args: argparse.Namespace) -> str:
    if args.cluster_secret is not None:
        return str(args.cluster_secret)
    path = Path(args.data_dir) / "cluster.json"
    if path.exists():
        return str(json.loads(path.read_text())["cluster_secret"])
    return ""


def run_admin(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except errors.TesseraError as exc:
        print(f"tessera admin: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    async with MetadataClient(args.metadata_address, _secret(args)) as client:
        if args.admin_command in ("user", "key", "buckets", "status"):
            return await admin_access.run(args, client, _secret(args))
        if args.admin_command == "bucket":
            return await admin_buckets.run(args, client)
        if args.admin_command == "kms":
            return await admin_kms.run(args, client)
        if args.admin_command in ("usage", "quota"):
            return await admin_usage.run(args, client)
        if args.admin_command == "rebuild-metadata":
            return await admin_rebuild.run(args, client, _secret(args))
        if args.admin_command == "repair" and args.repair_command == "status":
            status = await client.repair_status(timeout=CALL_SECONDS)
            if status is None:
                print("no metadata replica leads repair right now", file=sys.stderr)
                return 1
            print(format_status(status, time.time()))
            return 0
        if args.admin_command == "repair":
            await client.set_repair_rate(args.bytes_per_second, timeout=CALL_SECONDS)
            print(f"repair rate set to {args.bytes_per_second:.0f} bytes/s")
            return 0
        if args.node_command == "remove":
            reply = await client.remove_node(args.node_id, force=args.force, timeout=REMOVE_SECONDS)
            print(f"node {args.node_id} removed from the cluster map")
            if reply.placements:
                print(
                    f"{reply.placements} shard placements ({reply.shard_sets} shard sets) "
                    "named it: repair rebuilds them elsewhere"
                )
            return 0
        if args.node_command == "readmit":
            await client.readmit_node(args.node_id, timeout=CALL_SECONDS)
            print(f"node {args.node_id} may register again")
            return 0
        state = "draining" if args.node_command == "drain" else "up"
        await client.set_node_state(args.node_id, state, timeout=CALL_SECONDS)
        print(f"node {args.node_id} is now {state}")
        return 0


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TiB"


def format_status(s: pb.RepairStatusResponse, now: float) -> str:
    margins = "  ".join(f"{m.margin}: {m.shard_sets}" for m in s.margins)
    eta = "unknown (blocked)" if s.eta_seconds < 0 else f"{s.eta_seconds:.0f} s"
    scanned = f"{now - s.last_scan_at:.0f} s ago" if s.last_scan_at else "not yet"
    ratio = s.read_bytes_total / s.repaired_bytes_total if s.repaired_bytes_total else 0.0
    return "\n".join(
        [
            f"repair leader:      {s.replica_id}",
            f"last scan:          {scanned}",
            f"objects by margin:  {margins}",
            f"queue:              {s.queue_shards} shards, {_bytes(s.queue_bytes)}"
            f" ({s.blocked_shards} blocked: no node fits the zone rule)",
            f"repaired:           {s.repaired_shards_total} shards, "
            f"{_bytes(s.repaired_bytes_total)}",
            f"throughput:         {_bytes(s.throughput_bytes_per_second)}/s"
            f" (limit {_bytes(s.rate_limit_bytes_per_second)}/s)",
            f"eta:                {eta}",
            f"read per repaired:  {ratio:.2f}  (cross-zone {_bytes(s.cross_zone_bytes_total)})",
            f"stale / failed:     {s.stale_repairs_total} / {s.failed_repairs_total}",
            f"gc removed:         {s.gc_deleted_shards_total} shards",
            f"rebalance:          {s.rebalance_queue_shards} shards to move "
            f"({_bytes(s.rebalance_queue_bytes)}), {s.rebalanced_shards_total} moved "
            f"({_bytes(s.rebalanced_bytes_total)})",
        ]
    )
