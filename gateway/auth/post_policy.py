"""Browser-based uploads (POST with a form): the SigV4 POST policy, pure.

The form carries a base64 JSON policy (an expiration and a list of
conditions) and its signature: HMAC-SHA256 of the base64 text under the
SigV4 signing key of the credential's date and region. Every form field but
policy, x-amz-signature, file and x-ignore-* must be allowed by a condition,
as S3 requires; content-length-range bounds the file's size.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.auth import canonical
from tessera import errors

NOT_CHECKED = frozenset({"policy", "x-amz-signature", "file"})
POLICY_MAX_BYTES = 20 * 1024


@dataclass(frozen=True)
class PostPolicy:
    access_key: str
    expiration: datetime
    conditions: list[Any]
    length_range: tuple[int, int] | None


def _denied(detail: str) -> errors.TesseraError:
    return errors.AccessDenied(f"Invalid according to Policy: {detail}")


def verify(
    fields: Mapping[str, str], lookup: Callable[[str], str | None], region: str, now: datetime
) -> PostPolicy:
    """Checks the signature and expiration; returns the decoded policy."""
    policy_b64 = fields.get("policy")
    if not policy_b64:
        raise errors.AccessDenied("Bucket POST must contain a field named 'policy'.")
    if fields.get("x-amz-algorithm") != canonical.ALGORITHM:
        raise errors.InvalidArgument("Only AWS4-HMAC-SHA256 POST policies are supported.")
    credential = fields.get("x-amz-credential", "")
    parts = credential.split("/")
    if len(parts) != 5 or parts[2] != region or parts[3] != "s3":
        raise errors.InvalidArgument("The x-amz-credential field is malformed.")
    access_key, date = parts[0], parts[1]
    secret = lookup(access_key)
    if secret is None:
        raise errors.InvalidAccessKeyId()
    expected = canonical.signature(canonical.signing_key(secret, date, region), policy_b64)
    if not canonical.signatures_equal(expected, fields.get("x-amz-signature", "")):
        raise errors.SignatureDoesNotMatch()
    if len(policy_b64) > POLICY_MAX_BYTES:
        raise errors.InvalidPolicyDocument("The policy document is too large.")
    try:
        document = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = _parse_expiration(str(document["expiration"]))
        conditions = list(document["conditions"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidPolicyDocument() from exc
    if expiration.astimezone(UTC) <= now:
        raise _denied("Policy expired.")
    return PostPolicy(access_key, expiration, conditions, _length_range(conditions))


def _parse_expiration(text: str) -> datetime:
    """ISO 8601 in UTC, with or without fractional seconds ("...T12:00:00.000Z")."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"bad expiration {text!r}")


def _length_range(conditions: list[Any]) -> tuple[int, int] | None:
    for c in conditions:
        if isinstance(c, list) and len(c) == 3 and str(c[0]).lower() == "content-length-range":
            try:
                return int(c[1]), int(c[2])
            except (TypeError, ValueError) as exc:
                raise errors.InvalidPolicyDocument() from exc
    return None


def check_fields(policy: PostPolicy, fields: Mapping[str, str], bucket: str) -> None:
    """Every condition holds, and every field is covered by one."""
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    covered = {"bucket"} if any(_names(c) == "bucket" for c in policy.conditions) else set()
    for condition in policy.conditions:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                name = name.lower()
                covered.add(name)
                if values.get(name) != str(expected):
                    raise _denied(f'Policy Condition failed: ["eq", "${name}", "{expected}"]')
        elif isinstance(condition, list) and len(condition) == 3:
            op = str(condition[0]).lower()
            if op == "content-length-range":
                continue
            name = str(condition[1]).lstrip("$").lower()
            expected = str(condition[2])
            covered.add(name)
            actual = values.get(name, "")
            if op == "eq" and actual != expected:
                raise _denied(f'Policy Condition failed: ["eq", "${name}", "{expected}"]')
            if op == "starts-with" and not actual.startswith(expected):
                raise _denied(f'Policy Condition failed: ["starts-with", "${name}", "{expected}"]')
            if op not in ("eq", "starts-with"):
                raise errors.InvalidPolicyDocument(f"Unknown condition {op!r}.")
        else:
            raise errors.InvalidPolicyDocument("A policy condition is malformed.")
    for name in values:
        if name in NOT_CHECKED or name.startswith("x-ignore-") or name == "bucket":
            continue
        if name not in covered:
            raise _denied(f"Extra input fields: {name}")


def check_size(policy: PostPolicy, size_bytes: int) -> None:
    if policy.length_range is None:
        return
    low, high = policy.length_range
    if size_bytes < low:
        raise errors.EntityTooSmall()
    if size_bytes > high:
        raise errors.EntityTooLarge()


def _names(condition: Any) -> str | None:
    if isinstance(condition, dict) and len(condition) == 1:
        return str(next(iter(condition))).lower()
    return None
