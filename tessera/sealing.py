"""Sealing access-key secrets at rest: AES-256-GCM under a key derived from
the cluster secret (HKDF-SHA256), bound to the access key id.

SigV4 verification needs the secret itself (it is the HMAC key), so it cannot
be stored as a one-way hash; it is stored sealed instead. Whoever holds the
cluster secret (the admin CLI that mints keys, the gateways that verify) can
open it; metadata replicas, their checkpoints and etcd hold only ciphertext.

Invariant: a sealed secret opens only under the same cluster secret and the
same access key id (the id is the AEAD's associated data), so a record copied
onto another key id does not verify.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
_INFO = b"tessera access key secrets v1"


def _key(cluster_secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(cluster_secret.encode())


class Sealer:
    def __init__(self, cluster_secret: str) -> None:
        self._aead = AESGCM(_key(cluster_secret))

    def seal(self, access_key_id: str, secret: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), access_key_id.encode())

    def open(self, access_key_id: str, sealed: bytes) -> str | None:
        """The secret; None when it was sealed under another cluster secret or key id."""
        try:
            plain = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], access_key_id.encode()
            )
        except (InvalidTag, ValueError):
            return None
        return plain.decode()
