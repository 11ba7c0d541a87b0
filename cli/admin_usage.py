"""`tessera admin usage` and `tessera admin quota` (docs/usage-and-quotas.md).

    tessera admin usage [--bucket B] [--user U | --owner ID] [--from T] [--to T] [--json]
                        [--recount]
    tessera admin quota set   --bucket B | --user U | --owner ID [--max-bytes N] [--max-objects N]
    tessera admin quota get   --bucket B | --user U | --owner ID
    tessera admin quota clear --bucket B | --user U | --owner ID

T is an ISO 8601 time (UTC when it names no zone; "2026-11-25" or
"2026-11-25T13:00") or a Unix time in seconds; the range covers whole hours,
both ends included (default: the last 24 hours). The JSON is exactly what the
metadata service's GetUsage answers. N takes KiB/MiB/GiB/TiB (or KB/MB/GB/TB).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from metadata.client import MetadataClient
from tessera import access, errors
from tessera.usage import SECONDS_PER_HOUR, Quota, hour_of

CALL_SECONDS = 10.0
DEFAULT_RANGE_HOURS = 24
_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_COLUMNS = (
    ("bucket", "bucket"),
    ("owner", "owner"),
    ("objects", "objects"),
    ("versions", "versions"),
    ("markers", "delete_markers"),
    ("logical_B", "logical_bytes"),
    ("physical_B", "physical_bytes"),
    ("uploads", "multipart_uploads"),
    ("parts", "multipart_parts"),
    ("parts_B", "multipart_bytes"),
)
_REQUEST_COLUMNS = (
    ("put_req", "put_class"),
    ("get_req", "get_class"),
    ("del_req", "delete"),
    ("in_B", "bytes_in"),
    ("out_B", "bytes_out"),
)


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    usage = what.add_parser("usage", help="storage and request usage per bucket or user")
    usage.add_argument("--bucket", default="")
    _add_owner(usage)
    usage.add_argument("--from", dest="from_time", default="", help="ISO 8601 or Unix seconds")
    usage.add_argument("--to", dest="to_time", default="", help="ISO 8601 or Unix seconds")
    usage.add_argument("--json", action="store_true", help="print the report as JSON")
    usage.add_argument(
        "--recount",
        action="store_true",
        help="first recount the storage counters of the bucket (or of every bucket) from "
        "its records: for data stored before usage was counted",
    )
    quota = what.add_parser("quota", help="set, show or clear a bucket's or user's quota")
    quota_what = quota.add_subparsers(dest="quota_command", required=True)
    for name in ("set", "get", "clear"):
        p = quota_what.add_parser(name)
        p.add_argument("--bucket", default="")
        _add_owner(p)
        if name == "set":
            p.add_argument("--max-bytes", type=parse_size, default=None)
            p.add_argument("--max-objects", type=int, default=None)


def _add_owner(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default="", help="a user name (tessera admin user)")
    who.add_argument("--owner", default="", help="a bucket owner id (e.g. the root access key)")


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if match is None or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1000, 10MiB, 5GB)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_time(text: str) -> float:
    """Unix seconds of an ISO 8601 time (UTC when naive) or of a number."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise errors.InvalidArgument(f"not a time: {text!r} (ISO 8601 or Unix seconds)") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def owner_of(args: argparse.Namespace) -> str:
    if args.user:
        return access.owner_id(args.user)
    return str(args.owner)


async def run(args: argparse.Namespace, client: MetadataClient) -> int:
    if args.admin_command == "usage":
        now = time.time()
        to_hour = hour_of(parse_time(args.to_time) if args.to_time else now)
        from_hour = (
            hour_of(parse_time(args.from_time))
            if args.from_time
            else to_hour - DEFAULT_RANGE_HOURS + 1
        )
        if from_hour > to_hour:
            raise errors.InvalidArgument("--from is after --to")
        if args.recount:
            await _recount(client, args.bucket, from_hour, to_hour)
        report = await client.get_usage(
            args.bucket, owner_of(args), from_hour, to_hour, timeout=CALL_SECONDS
        )
        print(json.dumps(report, indent=2, sort_keys=True) if args.json else format_report(report))
        return 0
    scope, name = ("bucket", args.bucket) if args.bucket else ("owner", owner_of(args))
    if not name:
        raise errors.InvalidArgument("name a bucket (--bucket) or a user (--user / --owner)")
    if args.quota_command == "get":
        quota = await client.get_quota(scope, name, timeout=CALL_SECONDS)
    elif args.quota_command == "clear":
        quota = await client.set_quota(scope, name, None, None, timeout=CALL_SECONDS)
    else:
        if args.max_bytes is None and args.max_objects is None:
            raise errors.InvalidArgument("set --max-bytes, --max-objects or both")
        if (args.max_objects or 0) < 0:
            raise errors.InvalidArgument("--max-objects must not be negative")
        quota = await client.set_quota(
            scope, name, args.max_bytes, args.max_objects, timeout=CALL_SECONDS
        )
    print(f"{scope} {name}: {format_quota(quota)}")
    return 0


async def _recount(client: MetadataClient, bucket: str, from_hour: int, to_hour: int) -> None:
    if bucket:
        names = [bucket]
    else:
        report = await client.get_usage("", "", from_hour, to_hour, timeout=CALL_SECONDS)
        names = [b["bucket"] for b in report["buckets"]]
    for name in names:
        await client.recount_usage(name, timeout=CALL_SECONDS)


def format_quota(quota: Quota | dict[str, Any] | None) -> str:
    if quota is None:
        return "no quota"
    if isinstance(quota, dict):
        quota = Quota.from_dict(quota)
    parts = []
    if quota.max_bytes is not None:
        parts.append(f"max {quota.max_bytes} bytes")
    if quota.max_objects is not None:
        parts.append(f"max {quota.max_objects} objects")
    return ", ".join(parts) or "no quota"


def _quota_cell(quota: dict[str, Any] | None) -> str:
    """One table cell (no spaces): "-" or e.g. max_bytes=1000,max_objects=5."""
    if quota is None:
        return "-"
    return ",".join(f"{k}={v}" for k, v in sorted(quota.items()) if v is not None) or "-"


def _hour_text(hour: int) -> str:
    return datetime.fromtimestamp(hour * SECONDS_PER_HOUR, UTC).strftime("%Y-%m-%dT%H:00Z")


def format_report(report: dict[str, Any]) -> str:
    """The report as an aligned table: one row per bucket, then the total."""
    header = [title for title, _ in _COLUMNS + _REQUEST_COLUMNS] + ["quota"]
    rows = []
    for b in report["buckets"]:
        row = [str(b[field]) for _, field in _COLUMNS]
        row += [str(b["requests"][field]) for _, field in _REQUEST_COLUMNS]
        row.append(_quota_cell(b["quota"]))
        rows.append(row)
    total = report["total"]
    requests = report["requests_total"]
    row = ["TOTAL", ""] + [str(total[field]) for _, field in _COLUMNS[2:]]
    row += [str(requests[field]) for _, field in _REQUEST_COLUMNS]
    row.append(_quota_cell(report["owner"]["quota"]) if "owner" in report else "-")
    rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"usage from {_hour_text(report['from_hour'])} to the end of "
        f"{_hour_text(report['to_hour'])} (requests); storage as of now",
    ]
    if "owner" in report:
        lines.append(f"owner {report['owner']['owner']}")
    for r in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
