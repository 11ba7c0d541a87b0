"""Path-style S3 routing: which operation a request names.

The bucket is the first path segment; the key is the rest of the raw path,
percent-decoded once (a '+' in a path is a plus, not a space). The operation
is chosen from the method, whether a bucket and key are present, and the
sub-resource query parameters; anything this gateway does not implement is
named so that it can be answered with NotImplemented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from tessera import errors

# Sub-resources that select a different operation; present means "not a plain
# object/bucket operation".
_BUCKET_SUBRESOURCES = {
    "acl",
    "cors",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "policy",
    "replication",
    "tagging",
    "uploads",
    "versioning",
    "versions",
    "website",
    "encryption",
    "object-lock",
    "ownershipControls",
    "publicAccessBlock",
    "accelerate",
    "requestPayment",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "delete",
}
_OBJECT_SUBRESOURCES = {
    "acl",
    "tagging",
    "uploads",
    "uploadId",
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "attributes",
}


# Operations on one multipart upload (?uploadId=...), by method. A PUT with
# x-amz-copy-source is UploadPartCopy, told apart by its handler.
_UPLOAD_OPERATIONS = {
    "PUT": "UploadPart",
    "POST": "CompleteMultipartUpload",
    "DELETE": "AbortMultipartUpload",
    "GET": "ListParts",
}


# Bucket access and configuration sub-resources (docs/access.md,
# docs/lifecycle.md), by sub-resource and method.
_BUCKET_ACCESS = {
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "cors": {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
    "lifecycle": {
        "GET": "GetBucketLifecycleConfiguration",
        "PUT": "PutBucketLifecycleConfiguration",
        "DELETE": "DeleteBucketLifecycle",
    },
    "tagging": {
        "GET": "GetBucketTagging",
        "PUT": "PutBucketTagging",
        "DELETE": "DeleteBucketTagging",
    },
    "website": {
        "GET": "GetBucketWebsite",
        "PUT": "PutBucketWebsite",
        "DELETE": "DeleteBucketWebsite",
    },
    "encryption": {
        "GET": "GetBucketEncryption",
        "PUT": "PutBucketEncryption",
        "DELETE": "DeleteBucketEncryption",
    },
    "object-lock": {"GET": "GetObjectLockConfiguration", "PUT": "PutObjectLockConfiguration"},
    "ownershipControls": {
        "GET": "GetBucketOwnershipControls",
        "PUT": "PutBucketOwnershipControls",
        "DELETE": "DeleteBucketOwnershipControls",
    },
    "publicAccessBlock": {
        "GET": "GetPublicAccessBlock",
        "PUT": "PutPublicAccessBlock",
        "DELETE": "DeletePublicAccessBlock",
    },
}

# Object Lock sub-resources of an object (docs/object-lock.md).
_OBJECT_LOCK = {
    "retention": {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"},
    "legal-hold": {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"},
}


@dataclass(frozen=True)
class Route:
    bucket: str
    key: str
    operation: str


def split_path(raw_path: str) -> tuple[str, str]:
    """Returns (bucket, key) of a path-style request ('' where absent)."""
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/"):
        raise errors.InvalidRequest("The request path must start with '/'.")
    rest = path[1:]
    bucket_raw, slash, key_raw = rest.partition("/")
    try:
        bucket = unquote(bucket_raw, errors="strict")
        key = unquote(key_raw, errors="strict") if slash else ""
    except UnicodeDecodeError as exc:
        raise errors.InvalidURI() from exc
    return bucket, key


def bucket_from_host(host: str, domains: tuple[str, ...]) -> str | None:
    """The bucket of a virtual-hosted-style request (bucket.<domain>), else None."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    for domain in domains:
        if name.endswith("." + domain) and len(name) > len(domain) + 1:
            return name[: -len(domain) - 1]
    return None


def split_request(host: str, raw_path: str, domains: tuple[str, ...]) -> tuple[str, str]:
    """(bucket, key) of a request, virtual-hosted style when the Host names a
    bucket under a configured domain, path style otherwise."""
    bucket = bucket_from_host(host, domains)
    if bucket is None:
        return split_path(raw_path)
    path = raw_path.split("?", 1)[0]
    try:
        key = unquote(path[1:], errors="strict") if path.startswith("/") else ""
    except UnicodeDecodeError as exc:
        raise errors.InvalidURI() from exc
    return bucket, key


def operation_for(method: str, bucket: str, key: str, query: Mapping[str, str]) -> str:
    """The S3 operation name; 'Unsupported:<what>' when not implemented."""
    if method == "OPTIONS":
        return "PreflightRequest"  # CORS preflight, on any resource (gateway/cors.py)
    if not bucket:
        if method == "GET":
            return "ListBuckets"
        raise errors.MethodNotAllowed()
    if not key:
        sub = sorted(q for q in query if q in _BUCKET_SUBRESOURCES)
        if sub:
            if method == "GET" and sub == ["location"]:
                return "GetBucketLocation"
            if sub == ["versioning"] and method in ("GET", "PUT"):
                return "GetBucketVersioning" if method == "GET" else "PutBucketVersioning"
            if method == "GET" and sub == ["versions"]:
                return "ListObjectVersions"
            if method == "POST" and sub == ["delete"]:
                return "DeleteObjects"
            if method == "GET" and sub == ["uploads"]:
                return "ListMultipartUploads"
            if len(sub) == 1 and sub[0] in _BUCKET_ACCESS and method in ("GET", "PUT", "DELETE"):
                operation = _BUCKET_ACCESS[sub[0]].get(method)
                if operation:
                    return operation
            return f"Unsupported:{method} ?{sub[0]}"
        table = {
            "POST": "PostObject",
            "PUT": "CreateBucket",
            "HEAD": "HeadBucket",
            "DELETE": "DeleteBucket",
            "GET": "ListObjectsV2" if query.get("list-type") == "2" else "ListObjects",
        }
        if method in table:
            return table[method]
        raise errors.MethodNotAllowed()
    sub = sorted(q for q in query if q in _OBJECT_SUBRESOURCES)
    if sub == ["uploads"] and method == "POST":
        return "CreateMultipartUpload"
    if sub == ["uploadId"] and method in _UPLOAD_OPERATIONS:
        return _UPLOAD_OPERATIONS[method]
    if sub == ["tagging"] and method in ("GET", "PUT", "DELETE"):
        return {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}[method] + "ObjectTagging"
    if sub == ["acl"] and method in ("GET", "PUT"):
        return "GetObjectAcl" if method == "GET" else "PutObjectAcl"
    if len(sub) == 1 and method in _OBJECT_LOCK.get(sub[0], {}):
        return _OBJECT_LOCK[sub[0]][method]
    if sub:
        return f"Unsupported:{method} ?{sub[0]}"
    table = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
    if method in table:
        return table[method]
    if method == "POST":
        return "Unsupported:POST"
    raise errors.MethodNotAllowed()
