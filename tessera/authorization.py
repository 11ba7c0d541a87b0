"""Whether one request may act on one bucket: ownership, ACLs, the bucket
policy and PublicAccessBlock combined the way S3 combines them — pure, no
I/O (docs/access.md "How a request is authorized").

Order of decision:
1. operations in policy_actions.OWNER_ONLY (the policy, ownership controls,
   PublicAccessBlock): the owner, and only the owner, whatever the policy
   says — an owner can always repair a policy that locked it out;
2. an explicit Deny in the bucket policy refuses, the owner included;
3. the owner may do everything else;
4. a policy Allow grants — unless the policy is public and the bucket's
   PublicAccessBlock has RestrictPublicBuckets;
5. ACLs grant reads to everyone: an object's public-read gives
   s3:GetObject(Version), a bucket's public-read gives listing — unless
   ACLs are disabled (BucketOwnerEnforced) or IgnorePublicAcls is set;
6. anything else is refused.

Invariant: no path grants a non-owner anything the policy denies, and only
steps 4-5 grant a non-owner anything at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera import access, policy
from tessera.model import BucketInfo
from tessera.policy_actions import OWNER_ONLY

ACL_OBJECT_READS = frozenset({"s3:getobject", "s3:getobjectversion"})
ACL_BUCKET_READS = frozenset(
    {"s3:listbucket", "s3:listbucketversions", "s3:listbucketmultipartuploads"}
)


@dataclass(frozen=True)
class Access:
    """One permission check: requester is a bucket owner id ("" anonymous);
    key is None for a bucket resource; object_acl the canned ACL of the
    version concerned, where one is known."""

    requester: str
    operation: str
    action: str
    key: str | None = None
    object_acl: str = ""
    values: Mapping[str, str] = field(default_factory=dict)


def resource_arn(bucket: str, key: str | None) -> str:
    return f"{policy.ARN_PREFIX}{bucket}" if key is None else f"{policy.ARN_PREFIX}{bucket}/{key}"


def is_allowed(bucket: BucketInfo, request: Access) -> bool:
    owner = bool(request.requester) and request.requester == bucket.owner
    if request.operation in OWNER_ONLY:
        return owner
    parsed = policy.cached_policy(bucket.policy, bucket.name) if bucket.policy else None
    decision = policy.Decision.NO_DECISION
    if parsed is not None:
        context = policy.RequestContext(
            request.requester,
            request.action,
            resource_arn(bucket.name, request.key),
            request.values,
        )
        decision = policy.evaluate(parsed, context)
    if decision is policy.Decision.DENY:
        return False
    if owner:
        return True
    blocks = access.public_access_block(bucket.public_access_block)
    if decision is policy.Decision.ALLOW:
        restricted = blocks.restrict_public_buckets
        if not (restricted and policy.is_public_text(bucket.policy, bucket.name)):
            return True
    if access.acls_disabled(bucket.ownership) or blocks.ignore_public_acls:
        return False
    action = request.action.lower()
    if action in ACL_OBJECT_READS and request.object_acl == "public-read":
        return True
    return action in ACL_BUCKET_READS and bucket.acl == "public-read"
