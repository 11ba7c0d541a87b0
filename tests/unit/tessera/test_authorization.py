"""Ownership, ACLs, bucket policy and PublicAccessBlock combined
(tessera/authorization.py): table tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera import access
from tessera.authorization import Access, is_allowed
from tessera.model import BucketInfo
from tessera.policy import whole_bucket_policy

OWNER = "user:alice"
BOB = "user:bob"


def policy(effect: str, principal: Any, action: str, resource: str = "arn:aws:s3:::b/*") -> str:
    statement = {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


DENY_ALL = policy("Deny", "*", "s3:*", "arn:aws:s3:::b/*")
DENY_OWNER_POLICY = json.dumps(
    {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            }
        ]
    }
)
BOB_PUT = policy("Allow", {"AWS": "arn:aws:iam::tessera:user/bob"}, "s3:PutObject")
PUBLIC_READ = whole_bucket_policy("b")
RESTRICT = access.PublicAccessBlock(restrict_public_buckets=True).to_json()
IGNORE_ACLS = access.PublicAccessBlock(ignore_public_acls=True).to_json()


def bucket(**fields: Any) -> BucketInfo:
    return BucketInfo(name="b", owner=OWNER, created_at=0.0, **fields)


# (bucket fields, requester, operation, action, key, object ACL, expected)
TABLE: list[tuple[dict[str, Any], str, str, str, str | None, str, bool]] = [
    # ownership alone
    ({}, OWNER, "PutObject", "s3:PutObject", "k", "", True),
    ({}, BOB, "GetObject", "s3:GetObject", "k", "", False),
    ({}, "", "GetObject", "s3:GetObject", "k", "", False),
    ({}, BOB, "ListObjects", "s3:ListBucket", None, "", False),
    # object ACL public-read: reads only
    ({}, "", "GetObject", "s3:GetObject", "k", "public-read", True),
    ({}, BOB, "GetObject", "s3:GetObjectVersion", "k", "public-read", True),
    ({}, "", "DeleteObject", "s3:DeleteObject", "k", "public-read", False),
    # bucket ACL public-read: listing
    ({"acl": "public-read"}, "", "ListObjects", "s3:ListBucket", None, "", True),
    ({"acl": "public-read"}, "", "GetObject", "s3:GetObject", "k", "", False),
    # ACLs disabled or ignored
    (
        {"ownership": "BucketOwnerEnforced"},
        "",
        "GetObject",
        "s3:GetObject",
        "k",
        "public-read",
        False,
    ),
    (
        {"public_access_block": IGNORE_ACLS},
        "",
        "GetObject",
        "s3:GetObject",
        "k",
        "public-read",
        False,
    ),
    # policy grants
    ({"policy": PUBLIC_READ}, "", "GetObject", "s3:GetObject", "k", "", True),
    ({"policy": PUBLIC_READ}, BOB, "PutObject", "s3:PutObject", "k", "", False),
    ({"policy": BOB_PUT}, BOB, "PutObject", "s3:PutObject", "k", "", True),
    ({"policy": BOB_PUT}, "", "PutObject", "s3:PutObject", "k", "", False),
    ({"policy": BOB_PUT}, "user:carol", "PutObject", "s3:PutObject", "k", "", False),
    # explicit deny beats ownership and ACLs
    ({"policy": DENY_ALL}, OWNER, "GetObject", "s3:GetObject", "k", "", False),
    ({"policy": DENY_ALL}, "", "GetObject", "s3:GetObject", "k", "public-read", False),
    ({"policy": DENY_ALL}, OWNER, "ListObjects", "s3:ListBucket", None, "", True),
    # the owner keeps its policy operations; others never get them
    ({"policy": DENY_OWNER_POLICY}, OWNER, "PutBucketPolicy", "s3:PutBucketPolicy", None, "", True),
    ({"policy": DENY_OWNER_POLICY}, OWNER, "ListObjects", "s3:ListBucket", None, "", False),
    (
        {"policy": policy("Allow", "*", "s3:*", "arn:aws:s3:::b")},
        BOB,
        "GetBucketPolicy",
        "s3:GetBucketPolicy",
        None,
        "",
        False,
    ),
    # RestrictPublicBuckets: a public policy grants nobody but the owner
    (
        {"policy": PUBLIC_READ, "public_access_block": RESTRICT},
        "",
        "GetObject",
        "s3:GetObject",
        "k",
        "",
        False,
    ),
    (
        {"policy": PUBLIC_READ, "public_access_block": RESTRICT},
        OWNER,
        "GetObject",
        "s3:GetObject",
        "k",
        "",
        True,
    ),
    (
        {"policy": BOB_PUT, "public_access_block": RESTRICT},
        BOB,
        "PutObject",
        "s3:PutObject",
        "k",
        "",
        True,
    ),
]


@pytest.mark.parametrize(
    ("fields", "requester", "operation", "action", "key", "acl", "expected"), TABLE
)
def test_authorization_table(
    fields: dict[str, Any],
    requester: str,
    operation: str,
    action: str,
    key: str | None,
    acl: str,
    expected: bool,
) -> None:
    request = Access(requester, operation, action, key=key, object_acl=acl)
    assert is_allowed(bucket(**fields), request) is expected
