"""The S3 actions a bucket policy may name, and the action and resource each
S3 operation is authorized as (docs/access.md "Bucket policies").

Invariant: every operation the gateway routes to a handler that acts on a
bucket has an entry in OPERATION_ACTIONS (a test checks the dispatch table
against it), so no operation is authorized by accident as another.
All names are lower case here; policies are matched case-insensitively.
"""

from __future__ import annotations

BUCKET_ACTIONS = frozenset(
    a.lower()
    for a in (
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:GetBucketLocation",
        "s3:DeleteBucket",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketCORS",
        "s3:PutBucketCORS",
        "s3:GetBucketObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:GetBucketWebsite",
        "s3:PutBucketWebsite",
        "s3:DeleteBucketWebsite",
    )
)
OBJECT_ACTIONS = frozenset(
    a.lower()
    for a in (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectRetention",
        "s3:PutObjectRetention",
        "s3:GetObjectLegalHold",
        "s3:PutObjectLegalHold",
        "s3:BypassGovernanceRetention",
    )
)

# Operation -> (action, whether its resource is an object ARN). A few take a
# different action for a version (versioned_action below).
OPERATION_ACTIONS: dict[str, tuple[str, bool]] = {
    "HeadBucket": ("s3:ListBucket", False),
    "ListObjects": ("s3:ListBucket", False),
    "ListObjectsV2": ("s3:ListBucket", False),
    "ListObjectVersions": ("s3:ListBucketVersions", False),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", False),
    "GetBucketLocation": ("s3:GetBucketLocation", False),
    "DeleteBucket": ("s3:DeleteBucket", False),
    "GetBucketVersioning": ("s3:GetBucketVersioning", False),
    "PutBucketVersioning": ("s3:PutBucketVersioning", False),
    "GetBucketAcl": ("s3:GetBucketAcl", False),
    "PutBucketAcl": ("s3:PutBucketAcl", False),
    "GetBucketPolicy": ("s3:GetBucketPolicy", False),
    "PutBucketPolicy": ("s3:PutBucketPolicy", False),
    "DeleteBucketPolicy": ("s3:DeleteBucketPolicy", False),
    "GetBucketCors": ("s3:GetBucketCORS", False),
    "PutBucketCors": ("s3:PutBucketCORS", False),
    "DeleteBucketCors": ("s3:PutBucketCORS", False),
    "GetObjectLockConfiguration": ("s3:GetBucketObjectLockConfiguration", False),
    "PutObjectLockConfiguration": ("s3:PutBucketObjectLockConfiguration", False),
    "GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls", False),
    "PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls", False),
    "DeleteBucketOwnershipControls": ("s3:PutBucketOwnershipControls", False),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", False),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", False),
    "DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock", False),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", False),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", False),
    "DeleteBucketLifecycle": ("s3:PutLifecycleConfiguration", False),
    "GetBucketTagging": ("s3:GetBucketTagging", False),
    "PutBucketTagging": ("s3:PutBucketTagging", False),
    "DeleteBucketTagging": ("s3:PutBucketTagging", False),
    "GetBucketWebsite": ("s3:GetBucketWebsite", False),
    "PutBucketWebsite": ("s3:PutBucketWebsite", False),
    "DeleteBucketWebsite": ("s3:DeleteBucketWebsite", False),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration", False),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", False),
    "DeleteBucketEncryption": ("s3:PutEncryptionConfiguration", False),
    "DeleteObjects": ("s3:DeleteObject", True),  # checked per key
    "PutObject": ("s3:PutObject", True),
    "GetObject": ("s3:GetObject", True),
    "HeadObject": ("s3:GetObject", True),
    "DeleteObject": ("s3:DeleteObject", True),
    "CreateMultipartUpload": ("s3:PutObject", True),
    "UploadPart": ("s3:PutObject", True),
    "CompleteMultipartUpload": ("s3:PutObject", True),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", True),
    "ListParts": ("s3:ListMultipartUploadParts", True),
    "GetObjectTagging": ("s3:GetObjectTagging", True),
    "PutObjectTagging": ("s3:PutObjectTagging", True),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", True),
    "GetObjectAcl": ("s3:GetObjectAcl", True),
    "PutObjectAcl": ("s3:PutObjectAcl", True),
    "GetObjectRetention": ("s3:GetObjectRetention", True),
    "PutObjectRetention": ("s3:PutObjectRetention", True),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", True),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold", True),
}

# Operations only the bucket owner may perform, whatever a policy says (as
# S3, whose account root always keeps these, so an owner cannot lock itself
# out of its own policy).
OWNER_ONLY = frozenset(
    {
        "GetBucketPolicy",
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    }
)

_VERSION_ACTIONS = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
}


def versioned_action(action: str, version_id: str) -> str:
    """The action of a request that names a version (?versionId=)."""
    return _VERSION_ACTIONS.get(action, action) if version_id else action
