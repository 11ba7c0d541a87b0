"""Encryption at rest at the S3 edge: what a request asks for (SSE-S3, SSE-KMS,
SSE-C headers or the bucket default), and the data keys a version's record
unlocks (docs/encryption.md).

Invariants: every header is checked before any byte is stored (bad input gets
S3's error and changes nothing); a customer key is never stored or logged —
only its MD5, which every later request must match (400 InvalidRequest
without a key, 403 AccessDenied with another one); a record's wrapped data
key opens only through the mode it was wrapped for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from gateway import metrics
from gateway.deadline import Deadline
from gateway.write_path import WriteRequest
from metadata.client import MetadataClient
from tessera import bucket_encryption, errors
from tessera.model import BucketInfo, KmsKeyInfo
from tessera.sse import DATA_KEY_BYTES
from tessera.sse_keys import (
    CUSTOMER_ALGORITHM,
    HEADER_CUSTOMER_ALGORITHM,
    HEADER_CUSTOMER_KEY_MD5,
    HEADER_KMS_KEY_ID,
    HEADER_SSE,
    INTERNAL_PREFIX,
    SSE_C,
    SSE_KMS,
    SSE_S3,
    WRAPPED_DATA_KEY,
    data_key_context,
    kms_kek,
    kms_key_context,
    new_data_key,
    parse_master_key,
    sse_s3_kek,
    unwrap,
    wrap,
)

CUSTOMER_PREFIX = "x-amz-server-side-encryption-customer-"
COPY_SOURCE_CUSTOMER_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"
DEFAULT_KMS_ALIAS = "aws/s3"  # the key SSE-KMS uses when the request names none
KMS_ACCOUNT = "000000000000"  # the account part of the key ARNs we answer with
RESPONSE_HEADERS = (
    HEADER_SSE,
    HEADER_KMS_KEY_ID,
    HEADER_CUSTOMER_ALGORITHM,
    HEADER_CUSTOMER_KEY_MD5,
)


@dataclass(frozen=True)
class CustomerKey:
    key: bytes = b""
    key_md5: str = ""  # base64, as S3 sends and returns it

    def __repr__(self) -> str:  # never the key itself, in a log or a traceback
        return f"CustomerKey(md5={self.key_md5})"


@dataclass(frozen=True)
class Encryption:
    """How a new object is to be encrypted."""

    mode: str  # SSE_S3, SSE_KMS or SSE_C
    customer: CustomerKey | None = None
    kms_key_id: str = ""  # as the request or bucket default named it ("": the default key)

    @property
    def opaque_etag(self) -> bool:
        """S3's ETag of an SSE-C or SSE-KMS object is not the MD5 of its data."""
        return self.mode in (SSE_C, SSE_KMS)


def load_master_key(path: str) -> bytes | None:
    """The cluster master key from its file; None when no file is configured."""
    if not path:
        return None
    return parse_master_key(Path(path).read_text())


def customer_key(headers: Mapping[str, str], prefix: str = CUSTOMER_PREFIX) -> CustomerKey | None:
    """The SSE-C key of a request (prefix: the copy source's headers), checked."""
    algorithm = headers.get(prefix + "algorithm")
    key_text = headers.get(prefix + "key")
    md5_text = headers.get(prefix + "key-MD5")
    if algorithm is None and key_text is None and md5_text is None:
        return None
    if algorithm is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            ArgumentName=prefix + "algorithm",
        )
    if algorithm != CUSTOMER_ALGORITHM:
        raise errors.InvalidEncryptionAlgorithmError(
            ArgumentName=prefix + "algorithm", ArgumentValue=algorithm
        )
    if key_text is None or md5_text is None:
        missing = "key" if key_text is None else "key-MD5"
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            f"provide an appropriate secret key{' MD5' if missing == 'key-MD5' else ''}.",
            ArgumentName=prefix + missing,
        )
    try:
        key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != DATA_KEY_BYTES:
        raise errors.InvalidArgument(
            "The secret key was invalid for the specified algorithm.", ArgumentName=prefix + "key"
        )
    actual = base64.b64encode(hashlib.md5(key).digest()).decode()
    if md5_text != actual:
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=prefix + "key-MD5",
        )
    return CustomerKey(key, actual)


def requested(headers: Mapping[str, str], bucket: BucketInfo | None) -> Encryption | None:
    """The encryption a write asks for: its own headers, else the bucket default
    (bucket None: the default is decided later, as for CreateMultipartUpload)."""
    sse = headers.get(HEADER_SSE)
    kms_key_id = headers.get(HEADER_KMS_KEY_ID)
    customer = customer_key(headers)
    if customer is not None and sse is not None:
        raise errors.InvalidArgument(
            "Server side encryption specified with both SSE-C and SSE-S3 headers",
            ArgumentName=HEADER_SSE,
        )
    if kms_key_id is not None and sse != SSE_KMS:
        raise errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires "
            "HTTP header x-amz-server-side-encryption : aws:kms",
            ArgumentName=HEADER_KMS_KEY_ID,
        )
    if customer is not None:
        return Encryption(SSE_C, customer=customer)
    if sse is not None:
        if sse not in (SSE_S3, SSE_KMS):
            raise errors.InvalidArgument(
                "Server Side Encryption with the specified algorithm is not supported.",
                ArgumentName=HEADER_SSE,
                ArgumentValue=sse,
            )
        if kms_key_id is not None and not kms_key_id:
            raise errors.InvalidArgument("The KMS key id must not be empty.")
        return Encryption(sse, kms_key_id=kms_key_id or "")
    default = bucket_encryption.from_json(bucket.encryption) if bucket is not None else None
    if default is not None:
        return Encryption(default.algorithm, kms_key_id=default.kms_key_id)
    return None


def response_headers(system_metadata: Mapping[str, str]) -> dict[str, str]:
    """The encryption headers S3 answers a write or read of this record with."""
    return {h: system_metadata[h] for h in RESPONSE_HEADERS if h in system_metadata}


def without_encryption(system_metadata: Mapping[str, str]) -> dict[str, str]:
    """system_metadata less what records a version's encryption (a copy's
    encryption is its own)."""
    return {
        k: v
        for k, v in system_metadata.items()
        if k not in RESPONSE_HEADERS and not k.startswith(INTERNAL_PREFIX)
    }


def has_opaque_etag(system_metadata: Mapping[str, str]) -> bool:
    """Whether data recorded with this metadata gets a random ETag (SSE-C, SSE-KMS)."""
    return HEADER_CUSTOMER_KEY_MD5 in system_metadata or system_metadata.get(HEADER_SSE) == SSE_KMS


def kms_lookup_name(key_id: str) -> str:
    """The id or alias a request's key id names: a key id, a key ARN, an
    alias/NAME or an alias ARN."""
    if key_id.startswith("arn:"):
        _, _, resource = key_id.rpartition(":")
        if resource.startswith("key/"):
            return resource.removeprefix("key/")
        if resource.startswith("alias/"):
            return resource.removeprefix("alias/")
        raise errors.KMS_NotFoundException(f"Invalid keyId '{key_id}'")
    return key_id.removeprefix("alias/")


class KeyService:
    """Makes and opens data keys; holds the master key and a cache of opened
    KMS keys (a KMS key never changes once created)."""

    def __init__(self, master_key: bytes | None, metadata: MetadataClient, region: str) -> None:
        self._master_key = master_key
        self._metadata = metadata
        self._region = region
        self._kms_keys: dict[str, tuple[str, bytes]] = {}  # id or alias -> (id, opened key)

    def key_arn(self, key_id: str) -> str:
        return f"arn:aws:kms:{self._region}:{KMS_ACCOUNT}:key/{key_id}"

    def require_master_key(self) -> None:
        """NotImplemented unless this gateway can do SSE-S3 and SSE-KMS."""
        self._master()

    def _master(self) -> bytes:
        if self._master_key is None:
            raise errors.NotImplemented(
                "Server-side encryption with SSE-S3 or SSE-KMS needs a cluster master key "
                "(TESSERA_MASTER_KEY_FILE); this gateway has none."
            )
        return self._master_key

    async def new_data_key(
        self, encryption: Encryption, *, deadline: Deadline
    ) -> tuple[bytes, dict[str, str]]:
        """A fresh data key, and the system metadata that records it wrapped."""
        data_key = new_data_key()
        record: dict[str, str] = {}
        if encryption.mode == SSE_C:
            assert encryption.customer is not None
            wrapped = wrap(encryption.customer.key, data_key, data_key_context(SSE_C))
            record[HEADER_CUSTOMER_ALGORITHM] = CUSTOMER_ALGORITHM
            record[HEADER_CUSTOMER_KEY_MD5] = encryption.customer.key_md5
        elif encryption.mode == SSE_S3:
            wrapped = wrap(sse_s3_kek(self._master()), data_key, data_key_context(SSE_S3))
            record[HEADER_SSE] = SSE_S3
        else:
            key_id, kms_key = await self._kms_key(encryption.kms_key_id, deadline=deadline)
            wrapped = wrap(kms_key, data_key, data_key_context(SSE_KMS, key_id))
            record[HEADER_SSE] = SSE_KMS
            record[HEADER_KMS_KEY_ID] = self.key_arn(key_id)
        record[WRAPPED_DATA_KEY] = base64.b64encode(wrapped).decode()
        metrics.DATA_KEYS_MADE.labels(encryption.mode).inc()
        return data_key, record

    async def sealed(
        self, write: WriteRequest, encryption: Encryption | None, deadline: Deadline
    ) -> WriteRequest:
        """write, sealed under a fresh data key when encryption asks for it."""
        if encryption is None:
            return write
        data_key, record = await self.new_data_key(encryption, deadline=deadline)
        return replace(
            write,
            system_metadata={**write.system_metadata, **record},
            data_key=data_key,
            opaque_etag=encryption.opaque_etag,
        )

    async def data_key(
        self,
        system_metadata: Mapping[str, str],
        customer: CustomerKey | None,
        *,
        deadline: Deadline,
    ) -> bytes | None:
        """The data key of a record (None: not encrypted), for a request that
        carries customer (its SSE-C key, if any)."""
        sse_c = HEADER_CUSTOMER_KEY_MD5 in system_metadata
        if customer is not None and not sse_c:
            raise errors.InvalidRequest(
                "The encryption parameters are not applicable to this object."
            )
        if WRAPPED_DATA_KEY not in system_metadata:
            return None
        wrapped = base64.b64decode(system_metadata[WRAPPED_DATA_KEY])
        if sse_c:
            if customer is None:
                raise errors.InvalidRequest(
                    "The object was stored using a form of Server Side Encryption. The correct "
                    "parameters must be provided to retrieve the object."
                )
            if not hmac.compare_digest(customer.key_md5, system_metadata[HEADER_CUSTOMER_KEY_MD5]):
                raise errors.AccessDenied(
                    "The provided customer key does not match the key the object was stored with."
                )
            opened = unwrap(customer.key, wrapped, data_key_context(SSE_C))
            if opened is None:
                raise errors.AccessDenied("The provided customer key does not open this object.")
            return opened
        if system_metadata.get(HEADER_SSE) == SSE_KMS:
            key_id, kms_key = await self._kms_key(
                system_metadata[HEADER_KMS_KEY_ID], deadline=deadline
            )
            opened = unwrap(kms_key, wrapped, data_key_context(SSE_KMS, key_id))
        else:
            opened = unwrap(sse_s3_kek(self._master()), wrapped, data_key_context(SSE_S3))
        if opened is None:
            raise errors.InternalError(
                "The object's data key does not open under this cluster's keys."
            )
        return opened

    async def _kms_key(self, requested_id: str, *, deadline: Deadline) -> tuple[str, bytes]:
        """(key id, opened key) of a KMS key named by id, ARN or alias; the
        default key is created on its first use."""
        master = self._master()
        name = kms_lookup_name(requested_id) if requested_id else DEFAULT_KMS_ALIAS
        if name in self._kms_keys:
            return self._kms_keys[name]
        try:
            record = await self._metadata.get_kms_key(name, timeout=deadline.remaining())
        except errors.KMS_NotFoundException:
            if name != DEFAULT_KMS_ALIAS:
                raise
            record = await self._metadata.create_kms_key(
                new_kms_key(master, DEFAULT_KMS_ALIAS), timeout=deadline.remaining()
            )
        opened = unwrap(kms_kek(master), record.wrapped_key, kms_key_context(record.key_id))
        if opened is None:
            raise errors.InternalError(
                f"The KMS key {record.key_id} does not open under this cluster's master key."
            )
        self._kms_keys[name] = self._kms_keys[record.key_id] = (record.key_id, opened)
        return record.key_id, opened


def new_kms_key(master_key: bytes, alias: str) -> KmsKeyInfo:
    """A new KMS key record: fresh key material, wrapped by the master key."""
    key_id = str(uuid.uuid4())
    wrapped = wrap(kms_kek(master_key), new_data_key(), kms_key_context(key_id))
    return KmsKeyInfo(key_id=key_id, alias=alias, wrapped_key=wrapped, created_at=time.time())
