"""The error tree, and its one mapping to S3 codes and HTTP statuses.

    TesseraError                       an operating error with an S3 meaning
    ├── S3Error subclasses             one class per S3 code, named exactly as
    │                                  AWS names it (NoSuchKey, SlowDown, ...)
    └── (anything else raised)         a bug: answered 500 InternalError with a
                                       request id, and logged

Every class carries its HTTP status and a default message. The gRPC side maps
them by code name (see grpc_status_for), so an error raised in the metadata
service reaches the S3 client with the same code.
"""

from __future__ import annotations


class TesseraError(Exception):
    """Base of every error that has an S3 code."""

    code: str = "InternalError"
    http_status: int = 500
    default_message: str = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **details: str) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers: dict[str, str] = {}  # extra response headers (x-amz-delete-marker)
        super().__init__(self.message)


def _error(code: str, status: int, message: str) -> type[TesseraError]:
    return type(
        code, (TesseraError,), {"code": code, "http_status": status, "default_message": message}
    )


# fmt: off
# ruff: noqa: E501
InternalError = _error("InternalError", 500, "We encountered an internal error. Please try again.")
ServiceUnavailable = _error("ServiceUnavailable", 503, "Please reduce your request rate.")
SlowDown = _error("SlowDown", 503, "Please reduce your request rate.")
NoSuchBucket = _error("NoSuchBucket", 404, "The specified bucket does not exist.")
NoSuchKey = _error("NoSuchKey", 404, "The specified key does not exist.")
InvalidTag = _error("InvalidTag", 400, "The tag provided was not a valid tag.")
NoSuchVersion = _error("NoSuchVersion", 404, "The specified version does not exist.")
InvalidURI = _error("InvalidURI", 400, "Couldn't parse the specified URI.")
NoSuchUpload = _error("NoSuchUpload", 404, "The specified multipart upload does not exist.")
BucketAlreadyExists = _error("BucketAlreadyExists", 409, "The requested bucket name is not available.")
BucketAlreadyOwnedByYou = _error("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.")
BucketNotEmpty = _error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty.")
InvalidBucketName = _error("InvalidBucketName", 400, "The specified bucket is not valid.")
KeyTooLongError = _error("KeyTooLongError", 400, "Your key is too long.")
MetadataTooLarge = _error("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.")
EntityTooSmall = _error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
InvalidPart = _error("InvalidPart", 400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
InvalidPartOrder = _error("InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number.")
InvalidPartNumber = _error("InvalidPartNumber", 416, "The requested partnumber is not satisfiable.")
InvalidPolicyDocument = _error("InvalidPolicyDocument", 400, "The content of the form does not meet the conditions specified in the policy document.")
MalformedPOSTRequest = _error("MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data.")
ServerSideEncryptionConfigurationNotFoundError = _error("ServerSideEncryptionConfigurationNotFoundError", 404, "The server side encryption configuration was not found")
InvalidEncryptionAlgorithmError = _error("InvalidEncryptionAlgorithmError", 400, "The encryption request you specified is not valid. The valid value is AES256.")
KMS_NotFoundException = _error("KMS.NotFoundException", 400, "The specified KMS key does not exist.")
EntityTooLarge = _error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size.")
IncompleteBody = _error("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
MissingContentLength = _error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
InvalidDigest = _error("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
BadDigest = _error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
XAmzContentSHA256Mismatch = _error("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
InvalidArgument = _error("InvalidArgument", 400, "Invalid Argument.")
InvalidStorageClass = _error("InvalidStorageClass", 400, "The storage class you specified is not valid.")
InvalidRequest = _error("InvalidRequest", 400, "Invalid Request.")
MalformedXML = _error("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema.")
InvalidRange = _error("InvalidRange", 416, "The requested range is not satisfiable.")
AccessDenied = _error("AccessDenied", 403, "Access Denied.")
InvalidAccessKeyId = _error("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
SignatureDoesNotMatch = _error("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
RequestTimeTooSkewed = _error("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")
AuthorizationHeaderMalformed = _error("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
AuthorizationQueryParametersError = _error("AuthorizationQueryParametersError", 400, "Error parsing the query-string authentication parameters.")
MissingSecurityHeader = _error("MissingSecurityHeader", 400, "Your request was missing a required header.")
MethodNotAllowed = _error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
NotImplemented = _error("NotImplemented", 501, "A header you provided implies functionality that is not implemented.")
PreconditionFailed = _error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold.")
RequestTimeout = _error("RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period.")
NoSuchBucketPolicy = _error("NoSuchBucketPolicy", 404, "The bucket policy does not exist.")
NoSuchCORSConfiguration = _error("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist.")
NoSuchWebsiteConfiguration = _error("NoSuchWebsiteConfiguration", 404, "The specified bucket does not have a website configuration.")
MalformedPolicy = _error("MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'.")
NoSuchLifecycleConfiguration = _error("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist.")
NoSuchTagSet = _error("NoSuchTagSet", 404, "The TagSet does not exist.")
# Quotas (docs/usage-and-quotas.md): the code MinIO and Ceph RGW answer, 403.
QuotaExceeded = _error("QuotaExceeded", 403, "The bucket or its owner is over its quota.")
# Admin operations on users and keys (IAM's codes; answered to the admin CLI only).
NoSuchEntity = _error("NoSuchEntity", 404, "The user or access key does not exist.")
EntityAlreadyExists = _error("EntityAlreadyExists", 409, "The user already exists.")
DeleteConflict = _error("DeleteConflict", 409, "The user still owns buckets.")
# Object Lock (docs/object-lock.md) and bucket ownership / public access (docs/access.md).
InvalidBucketState = _error("InvalidBucketState", 409, "The request is not valid with the current state of the bucket.")
ObjectLockConfigurationNotFoundError = _error("ObjectLockConfigurationNotFoundError", 404, "Object Lock configuration does not exist for this bucket.")
NoSuchObjectLockConfiguration = _error("NoSuchObjectLockConfiguration", 404, "The specified object does not have a ObjectLock configuration.")
OwnershipControlsNotFoundError = _error("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found.")
NoSuchPublicAccessBlockConfiguration = _error("NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found.")
AccessControlListNotSupported = _error("AccessControlListNotSupported", 400, "The bucket does not allow ACLs.")
# Internal, never answered to an S3 client: a commit made against a bucket
# record that changed since the gateway checked it (docs/gateway.md, "Bucket
# cache"). The gateway checks again and retries; if it leaked, it would read
# as a retryable 503.
BucketChanged = _error("BucketChanged", 503, "The bucket's configuration changed during the request. Please try again.")
InvalidBucketAclWithObjectOwnership = _error("InvalidBucketAclWithObjectOwnership", 400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting.")
# fmt: on

ALL_ERRORS: dict[str, type[TesseraError]] = {
    cls.code: cls
    for cls in [
        InternalError,
        ServiceUnavailable,
        SlowDown,
        BucketChanged,
        NoSuchBucket,
        NoSuchKey,
        NoSuchVersion,
        InvalidTag,
        NoSuchUpload,
        InvalidURI,
        BucketAlreadyExists,
        BucketAlreadyOwnedByYou,
        BucketNotEmpty,
        InvalidBucketName,
        KeyTooLongError,
        MetadataTooLarge,
        EntityTooSmall,
        InvalidPart,
        InvalidPartOrder,
        InvalidPartNumber,
        InvalidPolicyDocument,
        MalformedPOSTRequest,
        EntityTooLarge,
        IncompleteBody,
        MissingContentLength,
        InvalidDigest,
        BadDigest,
        XAmzContentSHA256Mismatch,
        InvalidArgument,
        InvalidStorageClass,
        InvalidRequest,
        MalformedXML,
        InvalidRange,
        AccessDenied,
        InvalidAccessKeyId,
        SignatureDoesNotMatch,
        RequestTimeTooSkewed,
        AuthorizationHeaderMalformed,
        AuthorizationQueryParametersError,
        MissingSecurityHeader,
        MethodNotAllowed,
        NotImplemented,
        PreconditionFailed,
        RequestTimeout,
        NoSuchBucketPolicy,
        NoSuchCORSConfiguration,
        NoSuchWebsiteConfiguration,
        MalformedPolicy,
        NoSuchLifecycleConfiguration,
        NoSuchTagSet,
        NoSuchEntity,
        EntityAlreadyExists,
        DeleteConflict,
        InvalidBucketState,
        ObjectLockConfigurationNotFoundError,
        NoSuchObjectLockConfiguration,
        OwnershipControlsNotFoundError,
        NoSuchPublicAccessBlockConfiguration,
        AccessControlListNotSupported,
        InvalidBucketAclWithObjectOwnership,
        ServerSideEncryptionConfigurationNotFoundError,
        InvalidEncryptionAlgorithmError,
        KMS_NotFoundException,
        QuotaExceeded,
    ]
}

# gRPC status names (grpc.StatusCode member names) by HTTP status class; the
# exact S3 code travels beside it in trailing metadata.
_GRPC_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ALREADY_EXISTS",
    411: "INVALID_ARGUMENT",
    412: "FAILED_PRECONDITION",
    416: "OUT_OF_RANGE",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


def grpc_status_for(error: TesseraError) -> str:
    """The grpc.StatusCode member name to carry this error over gRPC."""
    return _GRPC_BY_HTTP[error.http_status]


def from_code(code: str, message: str | None = None) -> TesseraError:
    """Rebuilds an error from its S3 code (unknown codes become InternalError)."""
    return ALL_ERRORS.get(code, InternalError)(message)
