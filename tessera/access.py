"""Who may do what: owner ids, canned ACLs, the bucket-policy subset and CORS
rule matching — pure functions, no I/O (docs/access.md).

Invariants: a policy is validated when it is stored (parse_policy) and only
ever grants — an Allow of s3:GetObject to everyone on objects of its own
bucket; nothing here can take away what ownership gives. A request with no
grant is denied (the gateway answers AccessDenied).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tessera import errors

CANNED_ACLS = frozenset({"private", "public-read"})
USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.@+=-]{1,64}")
POLICY_BYTES_MAX = 20 * 1024
CORS_RULES_MAX = 100
GET_OBJECT = "s3:GetObject"
_ARN_PREFIX = "arn:aws:s3:::"


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


# ------------------------------------------------------------ bucket policy


@dataclass(frozen=True)
class Grant:
    """Anonymous s3:GetObject on the objects whose ARN matches resource (a glob)."""

    resource: str


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse_policy(text: str, bucket: str) -> tuple[Grant, ...]:
    """Validates a bucket policy in the supported subset; MalformedPolicy otherwise.

    Supported: statements with Effect Allow, Principal "*" (or {"AWS": "*"}),
    Action s3:GetObject, Resource arn:aws:s3:::<this bucket>/<pattern> where
    the pattern may hold '*' and '?'.
    """
    if len(text.encode()) > POLICY_BYTES_MAX:
        raise errors.MalformedPolicy("Policies are at most 20 KB.")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise errors.MalformedPolicy() from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("Statement"), list | dict):
        raise errors.MalformedPolicy("Missing required field Statement")
    grants: list[Grant] = []
    for statement in _as_list(doc["Statement"]):
        if not isinstance(statement, dict):
            raise errors.MalformedPolicy("A statement must be an object")
        if statement.get("Effect") != "Allow":
            raise errors.MalformedPolicy("Only Effect Allow is supported")
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            principal = principal.get("AWS")
        if _as_list(principal) != ["*"]:
            raise errors.MalformedPolicy('Only Principal "*" is supported')
        actions = _as_list(statement.get("Action"))
        if not actions or any(a != GET_OBJECT for a in actions):
            raise errors.MalformedPolicy("Only Action s3:GetObject is supported")
        resources = _as_list(statement.get("Resource"))
        if not resources:
            raise errors.MalformedPolicy("Missing required field Resource")
        for resource in resources:
            if not isinstance(resource, str) or not resource.startswith(f"{_ARN_PREFIX}{bucket}/"):
                raise errors.MalformedPolicy("Policy has invalid resource", Resource=str(resource))
            grants.append(Grant(resource))
    if not grants:
        raise errors.MalformedPolicy("Missing required field Statement")
    return tuple(grants)


_GLOB = {"*": ".*", "?": "."}


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM resource pattern ('*' any run, '?' any one character) as a regex."""
    return re.compile("".join(_GLOB.get(c) or re.escape(c) for c in pattern), re.DOTALL)


def policy_allows_get(policy_text: str, bucket: str, key: str) -> bool:
    """True when the stored policy grants everyone s3:GetObject on bucket/key."""
    if not policy_text:
        return False
    arn = f"{_ARN_PREFIX}{bucket}/{key}"
    return any(
        _glob(g.resource).fullmatch(arn) is not None for g in parse_policy(policy_text, bucket)
    )


def whole_bucket_policy(bucket: str) -> str:
    """The policy that lets anyone read every object of bucket (the console's "public")."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": GET_OBJECT,
        "Resource": f"{_ARN_PREFIX}{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def grants_whole_bucket(policy_text: str, bucket: str) -> bool:
    if not policy_text:
        return False
    whole = f"{_ARN_PREFIX}{bucket}/*"
    return any(g.resource == whole for g in parse_policy(policy_text, bucket))


def anonymous_read_allowed(bucket_policy: str, object_acl: str, bucket: str, key: str) -> bool:
    """Whether anyone (signed or not) may GET/HEAD bucket/key."""
    return object_acl == "public-read" or policy_allows_get(bucket_policy, bucket, key)


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
