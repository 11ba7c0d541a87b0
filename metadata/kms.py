"""State effects and reads of the built-in key service (SSE-KMS keys).

Invariants: a key id names at most one key and an alias at most one key; a
key's material is stored only wrapped by the cluster master key (metadata
never holds the master key, so it cannot open what it stores).
"""

from __future__ import annotations

from collections.abc import Iterable

from metadata import keys
from metadata.mutations import CreateKmsKey
from metadata.overlay import Overlay
from tessera import errors
from tessera.model import KmsKeyInfo, kms_key_from_json, kms_key_to_json

KEY_ID_MAX_CHARS = 64
ALIAS_MAX_CHARS = 256


def create_kms_key(overlay: Overlay, m: CreateKmsKey) -> KmsKeyInfo:
    if not m.key_id or len(m.key_id) > KEY_ID_MAX_CHARS or "/" in m.key_id:
        raise errors.InvalidArgument("A KMS key id is 1-64 characters without '/'.")
    if len(m.alias) > ALIAS_MAX_CHARS:
        raise errors.InvalidArgument("A KMS key alias is at most 256 characters.")
    if m.alias:
        existing = find(((k, v) for k, v in overlay.scan(keys.KMS_KEY)), m.alias)
        if existing is not None:
            return existing
    if overlay.get(keys.kms_key_key(m.key_id)) is not None:
        raise errors.EntityAlreadyExists("The KMS key id is taken.")
    try:
        wrapped = bytes.fromhex(m.wrapped_key_hex)
    except ValueError as exc:  # an S3 outcome, never a crash of apply
        raise errors.InvalidArgument("The wrapped key is not hex.") from exc
    key = KmsKeyInfo(m.key_id, m.alias, wrapped, m.created_at)
    overlay.put(keys.kms_key_key(m.key_id), kms_key_to_json(key))
    return key


def find(records: Iterable[tuple[bytes, bytes]], id_or_alias: str) -> KmsKeyInfo | None:
    """The key whose id or alias is id_or_alias, among the KMS key records."""
    for _, raw in records:
        key = kms_key_from_json(raw)
        if id_or_alias in (key.key_id, key.alias):
            return key
    return None
