"""Bucket policies in the S3 policy language: parse and validate a policy
when it is stored, evaluate it for one request — pure, no I/O
(docs/access.md "Bucket policies").

parse_policy() accepts Version, Statement (Sid, Effect, Principal or
NotPrincipal, Action or NotAction, Resource or NotResource, Condition) and
refuses with MalformedPolicy anything it would not enforce exactly: an
unknown action, a resource outside the bucket, an unknown condition
operator or key, an action no resource of its statement applies to.

evaluate() gives DENY when a matching statement denies, else ALLOW when one
allows, else NO_DECISION — the caller (gateway/authorization.py) combines
that with ownership and ACLs, explicit deny first, as S3 does.

Invariant: a policy that parse_policy() accepted is evaluated without
errors; evaluation of a request never depends on anything but the parsed
policy and the RequestContext.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from tessera import errors
from tessera.policy_actions import BUCKET_ACTIONS, OBJECT_ACTIONS

POLICY_BYTES_MAX = 20 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
ARN_PREFIX = "arn:aws:s3:::"
_USER_ARN = re.compile(r"arn:aws:iam::[^:]*:user/([A-Za-z0-9_.@+=-]{1,64})")
EVERYONE = "*"

# Condition keys whose values a request supplies (RequestContext.values).
CONDITION_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:securetransport",
        "aws:referer",
        "aws:useragent",
        "aws:username",
        "aws:userid",
        "aws:principaltype",
        "s3:prefix",
        "s3:delimiter",
        "s3:max-keys",
        "s3:versionid",
        "s3:x-amz-acl",
        "s3:object-lock-mode",
        "s3:object-lock-remaining-retention-days",
    }
)
_STRING_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
}
_NUMERIC_OPERATORS = {
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
OPERATORS = frozenset(
    _STRING_OPERATORS | _NUMERIC_OPERATORS | {"Bool", "IpAddress", "NotIpAddress", "Null"}
)
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals"}


class Decision(Enum):
    DENY = "deny"
    ALLOW = "allow"
    NO_DECISION = "none"


@dataclass(frozen=True)
class RequestContext:
    """What a statement is matched against: who (principal: a bucket owner
    id — "user:<name>" or the root key id — or "" for anonymous), the S3
    action, the resource ARN, and condition key values (lower-case keys)."""

    principal: str
    action: str
    resource: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    operator: str  # without IfExists
    key: str  # lower case
    values: tuple[str, ...]
    if_exists: bool = False


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    principals: frozenset[str]  # owner ids, or EVERYONE
    not_principal: bool
    actions: tuple[str, ...]  # lower-case glob patterns
    not_action: bool
    resources: tuple[str, ...]  # glob patterns
    not_resource: bool
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]


# ------------------------------------------------------------ parsing


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any, what: str) -> list[str]:
    items = _as_list(value)
    if not items or not all(isinstance(i, str) and i for i in items):
        raise errors.MalformedPolicy(f"Policy has an invalid {what}")
    return items


def parse_policy(text: str, bucket: str) -> Policy:
    """The policy, validated for bucket; MalformedPolicy (with what is wrong) otherwise."""
    if len(text.encode()) > POLICY_BYTES_MAX:
        raise errors.MalformedPolicy("Policies are at most 20 KB.")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise errors.MalformedPolicy("This policy contains invalid Json") from exc
    if not isinstance(doc, dict):
        raise errors.MalformedPolicy("This policy contains invalid Json")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise errors.MalformedPolicy(f"Unknown field {sorted(unknown)[0]}")
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise errors.MalformedPolicy("The policy must contain a valid version string")
    raw_statements = doc.get("Statement")
    if not isinstance(raw_statements, list | dict) or not raw_statements:
        raise errors.MalformedPolicy("Missing required field Statement")
    statements = tuple(_statement(s, bucket) for s in _as_list(raw_statements))
    sids = [s.get("Sid") for s in _as_list(raw_statements) if s.get("Sid") is not None]
    if len(sids) != len(set(sids)):
        raise errors.MalformedPolicy("Statement IDs (SID) must be unique")
    return Policy(statements)


_STATEMENT_FIELDS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


def _one_of(statement: dict[str, Any], name: str) -> tuple[Any, bool]:
    """The value of name or Not<name> (exactly one present), and whether it was Not."""
    has, has_not = name in statement, f"Not{name}" in statement
    if has == has_not:
        raise errors.MalformedPolicy(f"Statement needs exactly one of {name} and Not{name}")
    return (statement[f"Not{name}"], True) if has_not else (statement[name], False)


def _statement(raw: Any, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise errors.MalformedPolicy("A statement must be an object")
    unknown = set(raw) - _STATEMENT_FIELDS
    if unknown:
        raise errors.MalformedPolicy(f"Unknown field {sorted(unknown)[0]}")
    if raw.get("Sid") is not None and not isinstance(raw["Sid"], str):
        raise errors.MalformedPolicy("Statement IDs (SID) must be strings")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise errors.MalformedPolicy("Invalid effect: the Effect must be Allow or Deny")
    principal, not_principal = _one_of(raw, "Principal")
    actions, not_action = _one_of(raw, "Action")
    resources, not_resource = _one_of(raw, "Resource")
    parsed_actions = tuple(_action(a) for a in _strings(actions, "action"))
    parsed_resources = tuple(_resource(r, bucket) for r in _strings(resources, "resource"))
    if not not_action and not not_resource:
        _check_applies(parsed_actions, parsed_resources)
    return Statement(
        effect=effect,
        principals=_principals(principal),
        not_principal=not_principal,
        actions=parsed_actions,
        not_action=not_action,
        resources=parsed_resources,
        not_resource=not_resource,
        conditions=_conditions(raw.get("Condition", {})),
    )


def _principals(raw: Any) -> frozenset[str]:
    if raw == EVERYONE:
        return frozenset({EVERYONE})
    if not isinstance(raw, dict) or set(raw) != {"AWS"}:
        raise errors.MalformedPolicy("Invalid principal in policy")
    found = set()
    for value in _strings(raw["AWS"], "principal"):
        if value == EVERYONE:
            found.add(EVERYONE)
            continue
        user = _USER_ARN.fullmatch(value)
        if user is None:
            raise errors.MalformedPolicy(f"Invalid principal in policy: {value}")
        found.add(f"user:{user.group(1)}")
    return frozenset(found)


_ALL_ACTIONS = BUCKET_ACTIONS | OBJECT_ACTIONS


def _action(raw: str) -> str:
    pattern = raw.lower()
    if pattern == "*":
        return pattern
    if not any(_glob(pattern).fullmatch(a) for a in _ALL_ACTIONS):
        raise errors.MalformedPolicy(f"Policy has invalid action: {raw}")
    return pattern


def _resource(raw: str, bucket: str) -> str:
    if raw != f"{ARN_PREFIX}{bucket}" and not raw.startswith(f"{ARN_PREFIX}{bucket}/"):
        raise errors.MalformedPolicy(f"Policy has invalid resource: {raw}")
    return raw


def _check_applies(actions: tuple[str, ...], resources: tuple[str, ...]) -> None:
    """Every action must apply to a resource of the statement (S3 refuses
    s3:GetObject on a bucket ARN alone, s3:ListBucket on object ARNs alone)."""
    has_bucket = any("/" not in r[len(ARN_PREFIX) :] for r in resources)
    has_object = any("/" in r[len(ARN_PREFIX) :] for r in resources)
    for pattern in actions:
        matched = {a for a in _ALL_ACTIONS if _glob(pattern).fullmatch(a)}
        if (matched & BUCKET_ACTIONS and has_bucket) or (matched & OBJECT_ACTIONS and has_object):
            continue
        raise errors.MalformedPolicy("Action does not apply to any resource(s) in statement")


def _conditions(raw: Any) -> tuple[Condition, ...]:
    if not isinstance(raw, dict):
        raise errors.MalformedPolicy("Invalid Condition block")
    found = []
    for operator, block in raw.items():
        base = operator.removesuffix("IfExists")
        if base not in OPERATORS:
            raise errors.MalformedPolicy(f"Invalid Condition type : {operator}")
        if not isinstance(block, dict) or not block:
            raise errors.MalformedPolicy(f"Invalid Condition block for {operator}")
        for key, values in block.items():
            if not isinstance(key, str) or key.lower() not in CONDITION_KEYS:
                raise errors.MalformedPolicy(f"Policy has an invalid condition key: {key}")
            items = [str(v).lower() if isinstance(v, bool) else v for v in _as_list(values)]
            if not items or not all(isinstance(v, str | int | float) for v in items):
                raise errors.MalformedPolicy(f"Invalid Condition value for {key}")
            condition = Condition(base, key.lower(), tuple(str(v) for v in items), base != operator)
            _check_condition_values(condition)
            found.append(condition)
    return tuple(found)


def _check_condition_values(condition: Condition) -> None:
    try:
        if condition.operator in ("IpAddress", "NotIpAddress"):
            for value in condition.values:
                ipaddress.ip_network(value, strict=False)
        elif condition.operator in _NUMERIC_OPERATORS:
            for value in condition.values:
                float(value)
    except ValueError as exc:
        raise errors.MalformedPolicy(
            f"Invalid Condition value for {condition.operator}: {condition.values}"
        ) from exc
    if condition.operator in ("Bool", "Null") and any(
        v.lower() not in ("true", "false") for v in condition.values
    ):
        raise errors.MalformedPolicy(f"{condition.operator} takes true or false")


# ------------------------------------------------------------ evaluation


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM pattern ('*' any run, '?' any one character) as a regex."""
    table = {"*": ".*", "?": "."}
    return re.compile("".join(table.get(c) or re.escape(c) for c in pattern), re.DOTALL)


@lru_cache(maxsize=256)
def cached_policy(text: str, bucket: str) -> Policy:
    """parse_policy, remembered: gateways evaluate the same stored text often."""
    return parse_policy(text, bucket)


def evaluate(policy: Policy, context: RequestContext) -> Decision:
    """DENY if a matching statement denies, else ALLOW if one allows, else NO_DECISION."""
    allowed = False
    for statement in policy.statements:
        if not _matches(statement, context):
            continue
        if statement.effect == "Deny":
            return Decision.DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.NO_DECISION


def _matches(statement: Statement, context: RequestContext) -> bool:
    named = EVERYONE in statement.principals or context.principal in statement.principals
    if named == statement.not_principal:
        return False
    action = context.action.lower()
    acts = any(_glob(p).fullmatch(action) for p in statement.actions)
    if acts == statement.not_action:
        return False
    hits = any(_glob(p).fullmatch(context.resource) for p in statement.resources)
    if hits == statement.not_resource:
        return False
    return all(_holds(c, context.values) for c in statement.conditions)


def _holds(condition: Condition, values: Mapping[str, str]) -> bool:
    actual = values.get(condition.key)
    if condition.operator == "Null":
        return (actual is None) == (condition.values[0].lower() == "true")
    if actual is None:
        # A missing key: IfExists conditions hold; negated operators hold
        # (nothing equals the value), others do not.
        return (
            condition.if_exists
            or condition.operator in _NEGATED
            or (condition.operator == "NotIpAddress")
        )
    return _compare(condition, actual)


def _compare(condition: Condition, actual: str) -> bool:
    op = condition.operator
    wanted = condition.values
    if op in ("StringEquals", "StringNotEquals"):
        hit = actual in wanted
    elif op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = actual.lower() in {w.lower() for w in wanted}
    elif op in ("StringLike", "StringNotLike"):
        hit = any(_glob(w).fullmatch(actual) for w in wanted)
    elif op == "Bool":
        hit = actual.lower() in {w.lower() for w in wanted}
    elif op in ("IpAddress", "NotIpAddress"):
        hit = _in_networks(actual, wanted)
    else:
        hit = _numeric(op, actual, wanted)
    return not hit if op in _NEGATED or op == "NotIpAddress" else hit


@lru_cache(maxsize=1024)
def _networks(
    values: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in values)


def _in_networks(actual: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(actual)
    except ValueError:
        return False
    return any(address in network for network in _networks(networks))


def _numeric(op: str, actual: str, wanted: tuple[str, ...]) -> bool:
    try:
        number = float(actual)
    except ValueError:
        return False
    tests = {
        "NumericEquals": lambda w: number == w,
        "NumericNotEquals": lambda w: number == w,  # negated by the caller
        "NumericLessThan": lambda w: number < w,
        "NumericLessThanEquals": lambda w: number <= w,
        "NumericGreaterThan": lambda w: number > w,
        "NumericGreaterThanEquals": lambda w: number >= w,
    }
    return any(tests[op](float(w)) for w in wanted)


# ------------------------------------------------------------ public policies


@lru_cache(maxsize=256)
def is_public_text(text: str, bucket: str) -> bool:
    """is_public of a stored policy, remembered like cached_policy."""
    return is_public(cached_policy(text, bucket))


def is_public(policy: Policy) -> bool:
    """Whether the policy grants anyone at all (S3's "public" for
    PublicAccessBlock): an Allow to "*" (or NotPrincipal) not narrowed by a
    source-address or user condition."""
    narrowing = {"aws:sourceip", "aws:username", "aws:userid"}
    for statement in policy.statements:
        if statement.effect != "Allow":
            continue
        everyone = statement.not_principal or EVERYONE in statement.principals
        narrowed = any(
            c.key in narrowing and c.operator in ("IpAddress", "StringEquals")
            for c in statement.conditions
        )
        if everyone and not narrowed:
            return True
    return False


def whole_bucket_policy(bucket: str) -> str:
    """The policy that lets anyone read every object of bucket (the console's "public")."""
    statement = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{ARN_PREFIX}{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def grants_whole_bucket(policy_text: str, bucket: str) -> bool:
    """Whether the policy lets anonymous requests read every object."""
    if not policy_text:
        return False
    context = RequestContext("", "s3:GetObject", f"{ARN_PREFIX}{bucket}/*")
    policy = cached_policy(policy_text, bucket)
    return evaluate(policy, context) is Decision.ALLOW
