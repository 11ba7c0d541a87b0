"""Authorization at the gateway: every S3 operation as an S3 action on a
resource ARN, with the request's condition values, decided by
tessera/authorization.py against the bucket's owner, ACLs, policy and
PublicAccessBlock (docs/access.md "How a request is authorized").

Invariants: a handler acts on a bucket only after authorized_bucket (or
check) returned for it; a refusal is AccessDenied and says nothing about
what the bucket holds. Condition values come from the request as this
gateway sees it (aws:SourceIp is the peer address; X-Forwarded-For is not
trusted).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from aiohttp import web

from gateway.deadline import Deadline
from gateway.routing import Route
from gateway.state import GatewayState
from tessera import errors
from tessera.authorization import Access, is_allowed
from tessera.model import BucketInfo
from tessera.object_lock import DAY_SECONDS, Lock
from tessera.policy_actions import OPERATION_ACTIONS, versioned_action

BYPASS_GOVERNANCE_HEADER = "x-amz-bypass-governance-retention"


def condition_values(request: web.Request, requester: str) -> dict[str, str]:
    """The condition keys (lower case) this request supplies."""
    values = {
        "aws:sourceip": request.remote or "",
        "aws:securetransport": "true" if request.secure else "false",
    }
    if not requester:
        values["aws:principaltype"] = "Anonymous"
    else:
        values["aws:userid"] = requester
        if requester.startswith("user:"):
            values["aws:username"] = requester.removeprefix("user:")
            values["aws:principaltype"] = "User"
        else:
            values["aws:principaltype"] = "Account"  # the root key
    for header, key in (("Referer", "aws:referer"), ("User-Agent", "aws:useragent")):
        if header in request.headers:
            values[key] = request.headers[header]
    for param, key in (("prefix", "s3:prefix"), ("delimiter", "s3:delimiter")):
        if param in request.query:
            values[key] = request.query[param]
    max_keys = request.query.get("max-keys", request.query.get("max-uploads"))
    if max_keys is not None:
        values["s3:max-keys"] = max_keys
    if "versionId" in request.query:
        values["s3:versionid"] = request.query["versionId"]
    if "x-amz-acl" in request.headers:
        values["s3:x-amz-acl"] = request.headers["x-amz-acl"]
    return values


def lock_values(lock: Lock) -> dict[str, str]:
    """s3:object-lock-mode and s3:object-lock-remaining-retention-days of a
    retention a request asks for (headers of a write, or the Retention body),
    the days counted on this gateway's clock, rounded up as S3 does."""
    if not lock.mode:
        return {}
    remaining_days = math.ceil(max(0.0, lock.retain_until - time.time()) / DAY_SECONDS)
    return {
        "s3:object-lock-mode": lock.mode,
        "s3:object-lock-remaining-retention-days": str(remaining_days),
    }


def allowed(
    request: web.Request,
    bucket: BucketInfo,
    requester: str,
    operation: str,
    *,
    key: str | None = None,
    action: str = "",
    object_acl: str = "",
    extra_values: Mapping[str, str] | None = None,
) -> bool:
    """Whether requester may perform operation (as action, default the
    operation's own) on bucket, or on key in it for an object operation;
    extra_values: condition values read from the request's body."""
    default_action, on_object = OPERATION_ACTIONS[operation]
    if not action:
        action = versioned_action(default_action, request.query.get("versionId", ""))
    check = Access(
        requester=requester,
        operation=operation,
        action=action,
        key=key if on_object or key is not None else None,
        object_acl=object_acl,
        values={**condition_values(request, requester), **(extra_values or {})},
    )
    return is_allowed(bucket, check)


def anyone_may_read(bucket: BucketInfo, key: str, object_acl: str, *, versioned: bool) -> bool:
    """Whether any anonymous request may read bucket/key, whatever its source
    address, Referer or transport: what lets a shared cache keep the answer
    (docs/cdn-and-apps.md). A grant that depends on a condition is not one
    for everybody, so it does not count; a Deny whose condition this check
    cannot see is the one thing a cache could still miss (documented)."""
    action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
    check = Access(
        requester="",
        operation="GetObject",
        action=action,
        key=key,
        object_acl=object_acl,
        values={"aws:principaltype": "Anonymous"},
    )
    return is_allowed(bucket, check)


def check(
    request: web.Request,
    bucket: BucketInfo,
    requester: str,
    operation: str,
    *,
    key: str | None = None,
    action: str = "",
    object_acl: str = "",
    extra_values: Mapping[str, str] | None = None,
) -> None:
    """AccessDenied unless allowed()."""
    if not allowed(
        request,
        bucket,
        requester,
        operation,
        key=key,
        action=action,
        object_acl=object_acl,
        extra_values=extra_values,
    ):
        raise errors.AccessDenied()


async def authorized_bucket(
    request: web.Request,
    state: GatewayState,
    route: Route,
    requester: str,
    deadline: Deadline,
    *,
    bucket_name: str = "",
    key: str | None = None,
    action: str = "",
    operation: str = "",
    extra_values: Mapping[str, str] | None = None,
    cached: bool = False,
) -> BucketInfo:
    """The bucket (route's, or bucket_name), once requester may perform the
    route's operation (or ``operation``) on it — on route.key (or ``key``)
    for an object operation. cached: the bucket may come from the bucket
    cache (only for a write whose commit then checks that the record is
    unchanged: write_path.write_object's recheck)."""
    bucket = await state.metadata.get_bucket(
        bucket_name or route.bucket, timeout=deadline.remaining(), cached=cached
    )
    operation = operation or route.operation
    _, on_object = OPERATION_ACTIONS[operation]
    if key is None and on_object:
        key = route.key
    check(request, bucket, requester, operation, key=key, action=action, extra_values=extra_values)
    return bucket


def may_bypass_governance(
    request: web.Request, bucket: BucketInfo, requester: str, operation: str, key: str
) -> bool:
    """x-amz-bypass-governance-retention: true, from a requester holding
    s3:BypassGovernanceRetention on the object (the owner does, unless the
    policy denies it)."""
    if request.headers.get(BYPASS_GOVERNANCE_HEADER, "").lower() != "true":
        return False
    return allowed(
        request, bucket, requester, operation, key=key, action="s3:BypassGovernanceRetention"
    )
