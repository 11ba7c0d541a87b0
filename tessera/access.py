"""Who is who and what ACLs say: owner ids, canned ACLs, ownership controls,
PublicAccessBlock settings and CORS rule matching — pure functions, no I/O
(docs/access.md). Bucket policies: tessera/policy.py; how the three combine:
gateway/authorization.py.

Invariant: every stored value (ACL, controls, CORS rules) is checked here
before it is stored, and read back only through these parsers, which fail
as S3 errors, never as crashes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from tessera import errors

CANNED_ACLS = frozenset({"private", "public-read"})
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@+=-]{1,64}")
CORS_RULES_MAX = 100


def owner_id(user: str) -> str:
    """The bucket owner id of a user's buckets (shared by all its keys).

    The root key from settings owns as itself (its access key id), as before
    users existed; a user id carries a ':' so it never equals an access key id.
    """
    return f"user:{user}"


def check_user_name(name: str) -> None:
    if not USER_NAME_PATTERN.fullmatch(name):
        raise errors.InvalidArgument("A user name is 1-64 characters of letters, digits and _.@+=-")


def check_canned_acl(acl: str) -> str:
    """The canned ACL (default private); InvalidArgument for any other value."""
    acl = acl or "private"
    if acl not in CANNED_ACLS:
        raise errors.InvalidArgument(
            f"The canned ACL {acl!r} is not supported (private, public-read).",
            ArgumentName="x-amz-acl",
        )
    return acl


def stored_object_acl(header: str) -> str:
    """The stored form of x-amz-acl on an object write: "" (private) or "public-read"."""
    acl = check_canned_acl(header)
    return "" if acl == "private" else acl


# ------------------------------------------------------------ ownership controls

OWNERSHIP_RULES = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


def check_ownership(rule: str) -> str:
    if rule not in OWNERSHIP_RULES:
        raise errors.MalformedXML(f"Unknown ObjectOwnership {rule!r}.")
    return rule


def acls_disabled(ownership: str) -> bool:
    """BucketOwnerEnforced: ACLs grant nothing and only 'private' may be set."""
    return ownership == "BucketOwnerEnforced"


# ------------------------------------------------------------ public access block

PUBLIC_ACCESS_FIELDS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def to_json(self) -> str:
        return json.dumps(list(self.as_tuple()))

    def as_tuple(self) -> tuple[bool, bool, bool, bool]:
        return (
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        )


@lru_cache(maxsize=256)
def public_access_block(text: str) -> PublicAccessBlock:
    """The stored settings ("" for none: nothing blocked); InvalidArgument for
    text to_json did not make."""
    if not text:
        return PublicAccessBlock()
    try:
        values = json.loads(text)
        if not isinstance(values, list) or len(values) != 4:
            raise TypeError("four flags")
        return PublicAccessBlock(*(bool(v) for v in values))
    except (ValueError, TypeError, RecursionError) as exc:
        raise errors.InvalidArgument("malformed public access block") from exc


def check_acl_allowed(ownership: str, public_access_block_text: str, acl: str) -> None:
    """Whether a canned ACL may be set on a bucket or one of its objects:
    none but private when ACLs are disabled (AccessControlListNotSupported),
    no public one under BlockPublicAcls (AccessDenied)."""
    if acl in ("", "private"):
        return
    if acls_disabled(ownership):
        raise errors.AccessControlListNotSupported()
    if public_access_block(public_access_block_text).block_public_acls:
        raise errors.AccessDenied("Public ACLs are blocked by the bucket's PublicAccessBlock.")


# ------------------------------------------------------------ CORS


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None


CORS_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})


def check_cors_rules(rules: list[CorsRule]) -> None:
    if not rules or len(rules) > CORS_RULES_MAX:
        raise errors.MalformedXML("A CORS configuration has 1 to 100 rules.")
    for rule in rules:
        if not rule.allowed_origins or not rule.allowed_methods:
            raise errors.MalformedXML("A CORS rule needs AllowedOrigin and AllowedMethod.")
        for method in rule.allowed_methods:
            if method not in CORS_METHODS:
                raise errors.InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        for pattern in (*rule.allowed_origins, *rule.allowed_headers):
            if pattern.count("*") > 1:
                raise errors.InvalidRequest(
                    f'AllowedOrigin/AllowedHeader "{pattern}" can not have more than one wildcard.'
                )


def cors_to_json(rules: list[CorsRule]) -> str:
    return json.dumps(
        [
            {
                "origins": list(r.allowed_origins),
                "methods": list(r.allowed_methods),
                "headers": list(r.allowed_headers),
                "expose": list(r.expose_headers),
                "max_age": r.max_age_seconds,
            }
            for r in rules
        ],
        separators=(",", ":"),
    )


def cors_from_json(text: str) -> list[CorsRule]:
    """The rules of cors_to_json's text; InvalidArgument for anything else
    (a log entry must fail as an S3 outcome, never as a crash of apply)."""
    if not text:
        return []
    try:
        rules = [
            CorsRule(
                tuple(str(o) for o in r["origins"]),
                tuple(str(m) for m in r["methods"]),
                tuple(str(h) for h in r["headers"]),
                tuple(str(h) for h in r["expose"]),
                None if r["max_age"] is None else int(r["max_age"]),
            )
            for r in json.loads(text)
        ]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise errors.InvalidArgument("malformed CORS rules") from exc
    return rules


def _wildcard_match(pattern: str, value: str, *, fold: bool) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def match_cors(
    rules: list[CorsRule], origin: str, method: str, request_headers: list[str]
) -> CorsRule | None:
    """The first rule allowing origin, method and every requested header (S3's order)."""
    for rule in rules:
        if not any(_wildcard_match(o, origin, fold=False) for o in rule.allowed_origins):
            continue
        if method not in rule.allowed_methods:
            continue
        if all(
            any(_wildcard_match(p, h, fold=True) for p in rule.allowed_headers)
            for h in request_headers
        ):
            return rule
    return None
