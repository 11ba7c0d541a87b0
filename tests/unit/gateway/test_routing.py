"""Path-style routing and name validation."""

from __future__ import annotations

import itertools
from contextlib import ExitStack

import pytest

from gateway.admission import Admission, read_buffer_bytes, write_buffer_bytes
from gateway.routing import operation_for, split_path
from gateway.validation import check_bucket_name, check_key
from tessera import errors
from tessera.geometry import Geometry


@pytest.mark.parametrize(
    ("raw", "bucket", "key"),
    [
        ("/", "", ""),
        ("/b", "b", ""),
        ("/b/", "b", ""),
        ("/b/a%20b%2Bc", "b", "a b+c"),
        ("/b/a+b", "b", "a+b"),
        ("/b/dir//x?list-type=2", "b", "dir//x"),
        ("/b/%E2%9C%93", "b", "\u2713"),
    ],
)
def test_split_path(raw: str, bucket: str, key: str) -> None:
    assert split_path(raw) == (bucket, key)


@pytest.mark.parametrize(
    ("method", "bucket", "key", "query", "op"),
    [
        ("GET", "", "", {}, "ListBuckets"),
        ("PUT", "b", "", {}, "CreateBucket"),
        ("GET", "b", "", {"list-type": "2"}, "ListObjectsV2"),
        ("GET", "b", "", {}, "ListObjects"),
        ("GET", "b", "", {"location": ""}, "GetBucketLocation"),
        ("PUT", "b", "k", {}, "PutObject"),
        ("HEAD", "b", "k", {}, "HeadObject"),
        ("OPTIONS", "b", "k", {"X-Amz-Signature": "x"}, "PreflightRequest"),
        ("OPTIONS", "b", "", {}, "PreflightRequest"),
        ("POST", "b", "k", {"uploads": ""}, "CreateMultipartUpload"),
        ("PUT", "b", "k", {"partNumber": "1", "uploadId": "u"}, "UploadPart"),
        ("POST", "b", "k", {"uploadId": "u"}, "CompleteMultipartUpload"),
        ("DELETE", "b", "k", {"uploadId": "u"}, "AbortMultipartUpload"),
        ("GET", "b", "k", {"uploadId": "u"}, "ListParts"),
        ("GET", "b", "", {"uploads": ""}, "ListMultipartUploads"),
        ("GET", "b", "k", {"partNumber": "2"}, "GetObject"),
        ("PUT", "b", "k", {"uploads": ""}, "Unsupported:PUT ?uploads"),
        ("POST", "b", "", {"uploads": ""}, "Unsupported:POST ?uploads"),
        ("GET", "b", "", {"versioning": ""}, "GetBucketVersioning"),
        ("PUT", "b", "", {"versioning": ""}, "PutBucketVersioning"),
        ("GET", "b", "", {"versions": "", "prefix": "a"}, "ListObjectVersions"),
        ("GET", "b", "k", {"versionId": "v"}, "GetObject"),
        ("DELETE", "b", "k", {"versionId": "v"}, "DeleteObject"),
        ("GET", "b", "k", {"tagging": ""}, "GetObjectTagging"),
        ("PUT", "b", "k", {"tagging": "", "versionId": "v"}, "PutObjectTagging"),
        ("DELETE", "b", "k", {"tagging": ""}, "DeleteObjectTagging"),
        ("GET", "b", "", {"acl": ""}, "GetBucketAcl"),
        ("PUT", "b", "", {"acl": ""}, "PutBucketAcl"),
        ("DELETE", "b", "", {"acl": ""}, "Unsupported:DELETE ?acl"),
        ("PUT", "b", "", {"policy": ""}, "PutBucketPolicy"),
        ("DELETE", "b", "", {"cors": ""}, "DeleteBucketCors"),
        ("GET", "b", "k", {"acl": ""}, "GetObjectAcl"),
        ("PUT", "b", "k", {"acl": ""}, "PutObjectAcl"),
        ("GET", "b", "", {"tagging": ""}, "GetBucketTagging"),
        ("PUT", "b", "", {"tagging": ""}, "PutBucketTagging"),
        ("DELETE", "b", "", {"tagging": ""}, "DeleteBucketTagging"),
        ("GET", "b", "", {"lifecycle": ""}, "GetBucketLifecycleConfiguration"),
        ("PUT", "b", "", {"lifecycle": ""}, "PutBucketLifecycleConfiguration"),
        ("DELETE", "b", "", {"lifecycle": ""}, "DeleteBucketLifecycle"),
        ("POST", "b", "", {"lifecycle": ""}, "Unsupported:POST ?lifecycle"),
        ("GET", "b", "", {"object-lock": ""}, "GetObjectLockConfiguration"),
        ("PUT", "b", "", {"object-lock": ""}, "PutObjectLockConfiguration"),
        ("DELETE", "b", "", {"object-lock": ""}, "Unsupported:DELETE ?object-lock"),
        ("GET", "b", "k", {"retention": "", "versionId": "v"}, "GetObjectRetention"),
        ("PUT", "b", "k", {"retention": ""}, "PutObjectRetention"),
        ("GET", "b", "k", {"legal-hold": ""}, "GetObjectLegalHold"),
        ("PUT", "b", "k", {"legal-hold": ""}, "PutObjectLegalHold"),
        ("DELETE", "b", "k", {"legal-hold": ""}, "Unsupported:DELETE ?legal-hold"),
        ("GET", "b", "", {"ownershipControls": ""}, "GetBucketOwnershipControls"),
        ("DELETE", "b", "", {"ownershipControls": ""}, "DeleteBucketOwnershipControls"),
        ("PUT", "b", "", {"publicAccessBlock": ""}, "PutPublicAccessBlock"),
        ("GET", "b", "", {"publicAccessBlock": ""}, "GetPublicAccessBlock"),
    ],
)
def test_operation_for(method: str, bucket: str, key: str, query: dict[str, str], op: str) -> None:
    assert operation_for(method, bucket, key, query) == op


def test_method_not_allowed() -> None:
    with pytest.raises(errors.MethodNotAllowed):
        operation_for("PATCH", "b", "k", {})


@pytest.mark.parametrize("name", ["abc", "my-bucket.example", "a" * 63, "0-9"])
def test_good_bucket_names(name: str) -> None:
    check_bucket_name(name)


@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "Abc", "a_b", "-ab", "ab-", "a..b", "192.168.0.1", "xn--ab", "a.-b"]
)
def test_bad_bucket_names(name: str) -> None:
    with pytest.raises(errors.InvalidBucketName):
        check_bucket_name(name)


def test_key_length_counts_utf8_bytes() -> None:
    check_key("k" * 1024)
    with pytest.raises(errors.KeyTooLongError):
        check_key("\u00e9" * 513)


def test_admission_refuses_past_the_limit() -> None:
    admission = Admission(inflight_bytes_max=100)
    with admission.reserve(60):
        with pytest.raises(errors.SlowDown):
            with admission.reserve(60):
                pass
        with admission.reserve(40):
            pass
    with admission.reserve(100):
        pass


def test_a_single_request_is_always_admitted() -> None:
    with Admission(inflight_bytes_max=1).reserve(10):
        pass


def test_buffer_estimates() -> None:
    g = Geometry(4, 2, 256 * 1024)
    assert write_buffer_bytes(g) == 1024 * 1024 + 5 * 6 * 256 * 1024
    assert read_buffer_bytes(g) == 2 * 6 * 256 * 1024


def test_a_small_body_reserves_what_it_can_hold() -> None:
    g = Geometry(4, 2, 256 * 1024)
    # 4 KiB (+ one 16-byte tag had it been sealed): the body and its six 1 KiB chunks.
    assert write_buffer_bytes(g, 4096) == 4112 + 6 * 1028
    assert read_buffer_bytes(g, 4096) == 4112 + 6 * 1028
    assert write_buffer_bytes(g, 0) == 0
    # Large bodies reserve the full pipeline, never more.
    assert write_buffer_bytes(g, 64 * 1024 * 1024) == write_buffer_bytes(g)
    assert read_buffer_bytes(g, 64 * 1024 * 1024) == read_buffer_bytes(g)
    # Monotone in the size: a larger body never reserves less.
    sizes = [1, 100, 4096, 1 << 20, (1 << 20) + 1, 3 << 20, 64 << 20]
    for small, large in itertools.pairwise(sizes):
        assert write_buffer_bytes(g, small) <= write_buffer_bytes(g, large)


def test_many_small_writes_fit_where_few_full_pipelines_do() -> None:
    """The default budget (512 MiB) admits ~60 full 4+2 pipelines at once,
    but thousands of 4 KiB PUTs."""
    g = Geometry(4, 2, 256 * 1024)
    admission = Admission(inflight_bytes_max=512 * 1024 * 1024)
    with ExitStack() as held:
        for _ in range(1000):
            held.enter_context(admission.reserve(write_buffer_bytes(g, 4096)))
    with ExitStack() as held, pytest.raises(errors.SlowDown):
        for _ in range(1000):
            held.enter_context(admission.reserve(write_buffer_bytes(g, 64 << 20)))


@pytest.mark.parametrize(
    ("host", "raw", "expected"),
    [
        ("photos.s3.example.com", "/a/b.jpg", ("photos", "a/b.jpg")),
        ("photos.s3.example.com:9000", "/", ("photos", "")),
        ("PHOTOS.S3.Example.com.", "/k?x=1", ("photos", "k")),
        ("s3.example.com", "/photos/k", ("photos", "k")),
        ("127.0.0.1:9000", "/photos/k", ("photos", "k")),
        ("other.org", "/photos/k", ("photos", "k")),
    ],
)
def test_virtual_hosted_style(host: str, raw: str, expected: tuple[str, str]) -> None:
    from gateway.routing import split_request

    assert split_request(host, raw, ("s3.example.com",)) == expected


def test_every_routed_bucket_operation_is_authorized_as_an_action() -> None:
    """Handlers authorize by operation name (gateway/authorization.py): each
    must have its S3 action, or be one of the few that never act on a bucket
    as anybody but the signer (ListBuckets, CreateBucket) or authenticate
    themselves (PostObject, as s3:PutObject; the CORS preflight)."""
    from gateway.app import HANDLERS
    from tessera.policy_actions import OPERATION_ACTIONS, OWNER_ONLY

    unauthorized = {"ListBuckets", "CreateBucket", "PostObject", "PreflightRequest"}
    assert set(HANDLERS) - unauthorized == set(OPERATION_ACTIONS)
    assert OWNER_ONLY <= set(OPERATION_ACTIONS)
