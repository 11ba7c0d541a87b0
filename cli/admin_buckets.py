"""`tessera admin bucket show|cache-control`: one bucket's settings, and its
default Cache-Control (docs/cdn-and-apps.md).

    tessera admin bucket show NAME                  owner, ACL, policy, CORS, website, default
    tessera admin bucket cache-control NAME VALUE   the Cache-Control of its public objects
                                                    that have none of their own
    tessera admin bucket cache-control NAME --clear

The default is an operator's setting (like a CDN's default TTL), so it is an
admin command over metadata gRPC with the cluster secret, as the others are;
the value is checked by tessera/caching.py before it is stored.
"""

from __future__ import annotations

import argparse

from metadata.client import MetadataClient
from tessera import caching, errors

CALL_SECONDS = 10.0


def add_parsers(what: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bucket = what.add_parser("bucket", help="one bucket's settings; its default Cache-Control")
    bucket_what = bucket.add_subparsers(dest="bucket_command", required=True)
    bucket_what.add_parser("show").add_argument("name")
    cache = bucket_what.add_parser(
        "cache-control", help="set the Cache-Control of public objects without their own"
    )
    cache.add_argument("name")
    cache.add_argument("value", nargs="?", default=None)
    cache.add_argument("--clear", action="store_true", help="remove the default")


async def run(args: argparse.Namespace, client: MetadataClient) -> int:
    if args.bucket_command == "show":
        b = await client.get_bucket(args.name, timeout=CALL_SECONDS)
        print(f"bucket:         {b.name}")
        print(f"owner:          {b.owner}")
        print(f"acl:            {b.acl}")
        print(f"versioning:     {b.versioning or 'off'}")
        print(f"policy:         {b.policy or '-'}")
        print(f"cors:           {'yes' if b.cors else '-'}")
        print(f"website:        {b.website or '-'}")
        print(f"cache-control:  {b.cache_control or '-'}")
        return 0
    if args.clear == (args.value is not None):
        raise errors.InvalidArgument("Give either a Cache-Control value or --clear.")
    value = "" if args.clear else caching.check_cache_control(args.value)
    await client.set_bucket_access(args.name, "cache-control", value, timeout=CALL_SECONDS)
    print(f"bucket {args.name}: default Cache-Control {value or 'removed'}")
    return 0
