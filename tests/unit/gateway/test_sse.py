"""Encryption headers of a request: S3's checks and the errors it answers with."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from gateway import sse
from tessera import errors
from tessera.model import BucketInfo

KEY = os.urandom(32)


def _sse_c(key: bytes = KEY, prefix: str = sse.CUSTOMER_PREFIX) -> dict[str, str]:
    return {
        prefix + "algorithm": "AES256",
        prefix + "key": base64.b64encode(key).decode(),
        prefix + "key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def _bucket(encryption: str = "") -> BucketInfo:
    return BucketInfo("b", "owner", 1.0, encryption=encryption)


def test_customer_key_is_checked() -> None:
    good = sse.customer_key(_sse_c())
    assert good is not None and good.key == KEY
    assert "key=" not in repr(good) and base64.b64encode(KEY).decode() not in repr(good)
    assert sse.customer_key({}) is None
    copy = sse.customer_key(
        _sse_c(prefix=sse.COPY_SOURCE_CUSTOMER_PREFIX), sse.COPY_SOURCE_CUSTOMER_PREFIX
    )
    assert copy is not None and copy.key == KEY
    p = sse.CUSTOMER_PREFIX
    cases: list[tuple[dict[str, str], type[errors.TesseraError]]] = [
        ({**_sse_c(), p + "algorithm": "AES128"}, errors.InvalidEncryptionAlgorithmError),
        (
            {k: v for k, v in _sse_c().items() if not k.endswith("algorithm")},
            errors.InvalidArgument,
        ),
        ({k: v for k, v in _sse_c().items() if not k.endswith("-key")}, errors.InvalidArgument),
        ({k: v for k, v in _sse_c().items() if not k.endswith("MD5")}, errors.InvalidArgument),
        (_sse_c(os.urandom(16)), errors.InvalidArgument),
        (_sse_c(os.urandom(33)), errors.InvalidArgument),
        ({**_sse_c(), p + "key": "not base64!"}, errors.InvalidArgument),
        (
            {**_sse_c(), p + "key-MD5": _sse_c(os.urandom(32))[p + "key-MD5"]},
            errors.InvalidArgument,
        ),
    ]
    for headers, error in cases:
        with pytest.raises(error):
            sse.customer_key(headers)


def test_requested_encryption() -> None:
    assert sse.requested({}, _bucket()) is None
    assert sse.requested({"x-amz-server-side-encryption": "AES256"}, _bucket()) == sse.Encryption(
        "AES256"
    )
    kms = sse.requested(
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "alias/k",
        },
        _bucket(),
    )
    assert kms == sse.Encryption("aws:kms", kms_key_id="alias/k") and kms.opaque_etag
    customer = sse.requested(_sse_c(), _bucket())
    assert customer is not None and customer.mode == sse.SSE_C and customer.opaque_etag
    default = _bucket('{"algorithm": "aws:kms", "kms_key_id": "team"}')
    assert sse.requested({}, default) == sse.Encryption("aws:kms", kms_key_id="team")
    assert sse.requested({"x-amz-server-side-encryption": "AES256"}, default) == sse.Encryption(
        "AES256"
    )
    for headers in (
        {"x-amz-server-side-encryption": "AES512"},
        {"x-amz-server-side-encryption": "AES256", **_sse_c()},
        {
            "x-amz-server-side-encryption": "AES256",
            "x-amz-server-side-encryption-aws-kms-key-id": "k",
        },
        {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "",
        },
    ):
        with pytest.raises(errors.InvalidArgument):
            sse.requested(headers, _bucket())


def test_kms_key_names() -> None:
    assert sse.kms_lookup_name("1234-abcd") == "1234-abcd"
    assert sse.kms_lookup_name("alias/team") == "team"
    assert sse.kms_lookup_name("arn:aws:kms:us-east-1:000000000000:key/1234") == "1234"
    assert sse.kms_lookup_name("arn:aws:kms:us-east-1:000000000000:alias/team") == "team"
    with pytest.raises(errors.KMS_NotFoundException):
        sse.kms_lookup_name("arn:aws:kms:us-east-1:000000000000:other")


def test_recorded_encryption_is_never_inherited_or_returned() -> None:
    record = {
        "x-amz-server-side-encryption": "AES256",
        "x-tessera-sse-data-key": "c2VjcmV0",
        "cache-control": "no-cache",
    }
    assert sse.without_encryption(record) == {"cache-control": "no-cache"}
    assert sse.response_headers(record) == {"x-amz-server-side-encryption": "AES256"}
