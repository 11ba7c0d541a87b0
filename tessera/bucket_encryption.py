"""A bucket's default encryption (PutBucketEncryption): the algorithm that
every write without encryption headers of its own gets.

Stored on the bucket record as JSON text {"algorithm": "AES256" | "aws:kms",
"kms_key_id": "..."} ("" when the bucket has none).

Invariant: a stored configuration always passes check(); kms_key_id is set
only with aws:kms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tessera import errors
from tessera.sse_keys import SSE_KMS, SSE_S3

ALGORITHMS = (SSE_S3, SSE_KMS)
KMS_KEY_ID_MAX_CHARS = 2048


@dataclass(frozen=True, slots=True)
class DefaultEncryption:
    algorithm: str
    kms_key_id: str = ""


def check(config: DefaultEncryption) -> DefaultEncryption:
    if config.algorithm not in ALGORITHMS:
        raise errors.MalformedXML(
            f"The SSEAlgorithm {config.algorithm!r} is not valid: AES256 or aws:kms."
        )
    if config.kms_key_id and config.algorithm != SSE_KMS:
        raise errors.InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            ArgumentName="ApplyServerSideEncryptionByDefault",
        )
    if len(config.kms_key_id) > KMS_KEY_ID_MAX_CHARS:
        raise errors.InvalidArgument("The KMSMasterKeyID is too long.")
    return config


def to_json(config: DefaultEncryption) -> str:
    return json.dumps({"algorithm": config.algorithm, "kms_key_id": config.kms_key_id})


def from_json(text: str) -> DefaultEncryption | None:
    if not text:
        return None
    raw = json.loads(text)
    return DefaultEncryption(str(raw["algorithm"]), str(raw.get("kms_key_id", "")))


def validate_json(text: str) -> None:
    """Raises MalformedXML unless text is "" or a valid stored configuration."""
    if not text:
        return
    try:
        config = from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.MalformedXML("The encryption configuration is not valid.") from exc
    assert config is not None
    check(config)
