"""`tessera admin kms create|list`: the keys of the built-in key service (SSE-KMS).

    tessera admin kms create NAME   a new key under the alias NAME; prints its id
    tessera admin kms list          every key: id, alias, creation time

A key is made here, wrapped with the cluster master key (tessera/sse_keys.py)
and leaves this process only wrapped; metadata stores it without ever being
able to open it. The master key file comes from --master-key-file,
TESSERA_MASTER_KEY_FILE or, for `tessera up`, master.key in --data-dir.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from gateway.sse import new_kms_key
from metadata.client import MetadataClient
from tessera.sse_keys import BadMasterKey, parse_master_key

CALL_SECONDS = 10.0


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kms = what.add_parser("kms", help="create or list the keys of SSE-KMS")
    kms.add_argument("--master-key-file", default=os.environ.get("TESSERA_MASTER_KEY_FILE"))
    kms_what = kms.add_subparsers(dest="kms_command", required=True)
    kms_what.add_parser("create").add_argument("name")
    kms_what.add_parser("list")


def _master_key(args: argparse.Namespace) -> bytes | None:
    path = Path(args.master_key_file or Path(args.data_dir) / "master.key")
    try:
        return parse_master_key(path.read_text())
    except (OSError, BadMasterKey) as exc:
        print(f"tessera admin kms: no usable master key in {path}: {exc}", file=sys.stderr)
        return None


async def run(args: argparse.Namespace, client: MetadataClient) -> int:
    if args.kms_command == "list":
        for key in await client.list_kms_keys(timeout=CALL_SECONDS):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_at))
            print(f"{key.key_id}\t{key.alias or '-'}\tcreated {when} UTC")
        return 0
    master_key = _master_key(args)
    if master_key is None:
        return 1
    proposed = new_kms_key(master_key, args.name)
    created = await client.create_kms_key(proposed, timeout=CALL_SECONDS)
    if created.key_id != proposed.key_id:
        print(
            f"tessera admin kms: the alias {args.name} is taken by {created.key_id}",
            file=sys.stderr,
        )
        return 1
    print(f"{created.key_id}\t{created.alias}")
    return 0
