"""The key hierarchy of encryption at rest: master key → key-encryption keys
→ per-object data keys (docs/encryption.md).

- The cluster *master key* (32 bytes, from TESSERA_MASTER_KEY_FILE) never
  encrypts data. Two keys are derived from it with HKDF-SHA256: the SSE-S3
  key-encryption key and the KMS key-encryption key.
- A *KMS key* is 32 random bytes under a name; metadata holds it only wrapped
  by the KMS key-encryption key.
- A *data key* is 32 random bytes per object (per multipart upload), stored
  in the version record only wrapped: by the SSE-S3 key-encryption key, by a
  KMS key, or by the customer's own key (SSE-C, whose key is never stored —
  only its MD5, to tell a wrong key from a right one).

Wrapping is AES-256-GCM with a random nonce and the wrap's *context* as
associated data, so a wrapped key opens only under the key and for the
purpose it was wrapped for.

Invariant: nothing here does I/O; callers pass the master key in.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tessera.sse import DATA_KEY_BYTES, NONCE_BYTES

MASTER_KEY_BYTES = 32

# What the version record's system metadata says (S3's own header names are
# returned as they are; x-tessera-* are internal and never returned).
HEADER_SSE = "x-amz-server-side-encryption"
HEADER_KMS_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
HEADER_CUSTOMER_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
HEADER_CUSTOMER_KEY_MD5 = "x-amz-server-side-encryption-customer-key-MD5"
WRAPPED_DATA_KEY = "x-tessera-sse-data-key"  # base64 of the wrapped data key
INTERNAL_PREFIX = "x-tessera-"

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
SSE_C = "SSE-C"  # our name for the mode; S3 marks it by the customer headers
CUSTOMER_ALGORITHM = "AES256"

_SSE_S3_INFO = b"tessera sse-s3 key-encryption key v1"
_KMS_INFO = b"tessera kms key-encryption key v1"


class BadMasterKey(ValueError):
    """The master key file does not hold 32 bytes in base64 or hex."""


def parse_master_key(text: str) -> bytes:
    """32 bytes from a key file's text: base64 (44 characters) or hex (64)."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * MASTER_KEY_BYTES else None
        if raw is None:
            raw = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise BadMasterKey("the master key is neither base64 nor hex") from exc
    if len(raw) != MASTER_KEY_BYTES:
        raise BadMasterKey(f"the master key has {len(raw)} bytes, not {MASTER_KEY_BYTES}")
    return raw


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(MASTER_KEY_BYTES)).decode()


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


def _derive(master_key: bytes, info: bytes) -> bytes:
    assert len(master_key) == MASTER_KEY_BYTES
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def sse_s3_kek(master_key: bytes) -> bytes:
    return _derive(master_key, _SSE_S3_INFO)


def kms_kek(master_key: bytes) -> bytes:
    return _derive(master_key, _KMS_INFO)


def wrap(kek: bytes, key: bytes, context: str) -> bytes:
    """nonce + AES-256-GCM(key) under kek, bound to context."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, key, context.encode())


def unwrap(kek: bytes, wrapped: bytes, context: str) -> bytes | None:
    """The key; None when kek or context is not the one it was wrapped with."""
    if len(wrapped) <= NONCE_BYTES:
        return None
    try:
        return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context.encode())
    except InvalidTag:
        return None


def data_key_context(mode: str, kms_key_id: str = "") -> str:
    return f"tessera data key v1|{mode}|{kms_key_id}"


def kms_key_context(kms_key_id: str) -> str:
    return f"tessera kms key v1|{kms_key_id}"
