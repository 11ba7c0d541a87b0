"""`tessera admin user|key|buckets|status`: users, access keys and a cluster overview.

    tessera admin user create NAME       a user (owns the buckets its keys create)
    tessera admin user list
    tessera admin user delete NAME       revokes its keys; refused while it owns buckets
    tessera admin key create USER        prints a new access key id and secret, once
    tessera admin key list [--user NAME]
    tessera admin key revoke KEY_ID      gateways stop accepting it within a few seconds
    tessera admin buckets                every bucket: owner, ACL, policy, CORS
    tessera admin status                 nodes, zones, capacity, metadata replicas, repair

Like the other admin commands these talk to metadata over gRPC with the
cluster secret, which also seals a new key's secret (tessera/sealing.py): the
secret is made here, printed once, and leaves this process only sealed.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections import defaultdict

from metadata.client import MetadataClient, parse_addresses
from tessera import access, errors, object_lock
from tessera.model import AccessKeyInfo
from tessera.sealing import Sealer

CALL_SECONDS = 10.0
ACCESS_KEY_ID_PREFIX = "TK"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = what.add_parser("user", help="create, list or delete users")
    user_what = user.add_subparsers(dest="user_command", required=True)
    user_what.add_parser("create").add_argument("name")
    user_what.add_parser("list")
    user_what.add_parser("delete").add_argument("name")
    key = what.add_parser("key", help="create, list or revoke access keys")
    key_what = key.add_subparsers(dest="key_command", required=True)
    key_what.add_parser("create").add_argument("user")
    key_what.add_parser("list").add_argument("--user", default="")
    key_what.add_parser("revoke").add_argument("access_key_id")
    what.add_parser("buckets", help="list every bucket with its owner and access settings")
    what.add_parser("status", help="nodes, zones, capacity, metadata replicas and repair")


def new_access_key_id() -> str:
    return ACCESS_KEY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(18))


def new_secret_key() -> str:
    return secrets.token_urlsafe(30)


async def run(args: argparse.Namespace, client: MetadataClient, cluster_secret: str) -> int:
    if args.admin_command == "user":
        return await _user(args, client)
    if args.admin_command == "key":
        return await _key(args, client, cluster_secret)
    if args.admin_command == "buckets":
        return await _buckets(client)
    return await _status(args, client, cluster_secret)


async def _user(args: argparse.Namespace, client: MetadataClient) -> int:
    if args.user_command == "create":
        await client.create_user(args.name, timeout=CALL_SECONDS)
        print(f"user {args.name} created")
    elif args.user_command == "delete":
        await client.delete_user(args.name, timeout=CALL_SECONDS)
        print(f"user {args.name} deleted (its keys revoked)")
    else:
        for user in await client.list_users(timeout=CALL_SECONDS):
            print(f"{user.name}\tcreated {_when(user.created_at)}")
    return 0


async def _key(args: argparse.Namespace, client: MetadataClient, cluster_secret: str) -> int:
    if args.key_command == "create":
        key_id, secret = new_access_key_id(), new_secret_key()
        sealed = Sealer(cluster_secret).seal(key_id, secret)
        await client.create_access_key(
            AccessKeyInfo(key_id, args.user, sealed, 0.0), timeout=CALL_SECONDS
        )
        print(f"access_key_id: {key_id}\nsecret_access_key: {secret}")
    elif args.key_command == "revoke":
        await client.revoke_access_key(args.access_key_id, timeout=CALL_SECONDS)
        print(f"access key {args.access_key_id} revoked")
    else:
        for key in await client.list_access_keys(args.user, timeout=CALL_SECONDS):
            print(f"{key.access_key_id}\t{key.user}\tcreated {_when(key.created_at)}")
    return 0


async def _buckets(client: MetadataClient) -> int:
    print("bucket\towner\tacl\tpolicy\tcors\tcreated\tobject-lock\tpublic-access-block")
    for b in await client.list_buckets("", timeout=CALL_SECONDS):
        policy = "yes" if b.policy else "-"
        cors = "yes" if b.cors else "-"
        blocks = access.public_access_block(b.public_access_block)
        blocked = ",".join(
            name
            for name, on in zip(access.PUBLIC_ACCESS_FIELDS, blocks.as_tuple(), strict=True)
            if on
        )
        print(
            f"{b.name}\t{b.owner}\t{b.acl}\t{policy}\t{cors}\t{_when(b.created_at)}"
            f"\t{_lock(b.object_lock)}\t{blocked or '-'}"
        )
    return 0


def _lock(field: str) -> str:
    """A bucket's Object Lock as an operator reads it: -, on, or the default rule."""
    if not field:
        return "-"
    rule = object_lock.config_from_json(field)
    if rule is None:
        return "on"
    period = f"{rule.days}d" if rule.days else f"{rule.years}y"
    return f"{rule.mode} {period}"


async def _status(args: argparse.Namespace, client: MetadataClient, cluster_secret: str) -> int:
    view = await client.get_cluster_map(timeout=CALL_SECONDS)
    zones: dict[str, list[str]] = defaultdict(list)
    capacity = used = 0
    for node in view.nodes:
        zones[node.zone].append(node.state)
        capacity += node.capacity_bytes
        used += node.used_bytes
    states = [n.state for n in view.nodes]
    print(f"map epoch:   {view.epoch}")
    print(
        f"nodes:       {len(states)} ({states.count('up')} up, {states.count('down')} down, "
        f"{states.count('draining')} draining)"
    )
    for zone in sorted(zones):
        print(f"  zone {zone}: {len(zones[zone])} nodes, {zones[zone].count('up')} up")
    for node in sorted(view.nodes, key=lambda n: n.node_id):
        print(
            f"  {node.node_id}\t{node.zone}\t{node.state}\t{node.address}\t"
            f"{_bytes(node.used_bytes)} / {_bytes(node.capacity_bytes)}"
        )
    print(f"capacity:    {_bytes(used)} used of {_bytes(capacity)}")
    print("metadata replicas:")
    for address in parse_addresses(args.metadata_address):
        try:
            async with MetadataClient(address, cluster_secret) as one:
                r = await one.replica_status(timeout=3.0)
            print(f"  {address}\t{r['replica_id'] or 'single'}\tapplied {r['applied_revision']}")
        except errors.TesseraError as exc:
            print(f"  {address}\tunreachable ({exc.code})")
    repair = await client.repair_status(timeout=CALL_SECONDS)
    if repair is None:
        print("repair:      no leader answered")
    else:
        print(
            f"repair:      leader {repair.replica_id}, queue {repair.queue_shards} shards "
            f"({_bytes(repair.queue_bytes)}), {repair.blocked_shards} blocked, "
            f"{repair.repaired_shards_total} repaired; rebalance "
            f"{repair.rebalance_queue_shards} shards to move, "
            f"{repair.rebalanced_shards_total} moved"
        )
    return 0


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
