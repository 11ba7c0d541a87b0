"""Digests of an incoming body, checked before anything is committed:
MD5 (the ETag, and Content-MD5), the signed payload SHA-256, and S3's
additional checksums (x-amz-checksum-crc32 / crc32c / sha1 / sha256)."""

from __future__ import annotations

import base64
import hashlib

from tessera import errors
from tessera.checksum import Hasher, new_hasher


class BodyDigests:
    def __init__(
        self,
        content_md5: bytes | None,
        payload_sha256: str | None,
        checksums: dict[str, str | None],
    ) -> None:
        """checksums: algorithm -> expected base64 value, or None when the
        value comes later, in the body's trailer."""
        self._content_md5 = content_md5
        self._payload_sha256 = payload_sha256
        self._expected = checksums
        self.md5 = hashlib.md5()
        self._sha = hashlib.sha256() if payload_sha256 else None
        self._hashers: dict[str, Hasher] = {a: new_hasher(a) for a in checksums}

    def also_compute(self, algorithms: tuple[str, ...]) -> None:
        """Computes these checksums too, with no value to check them against;
        check() returns them with the verified ones."""
        for algorithm in algorithms:
            if algorithm not in self._hashers:
                self._hashers[algorithm] = new_hasher(algorithm)

    def update(self, data: bytes) -> None:
        """Feeds the next body bytes (hashlib and crc32c release the GIL)."""
        self.md5.update(data)
        if self._sha is not None:
            self._sha.update(data)
        for hasher in self._hashers.values():
            hasher.update(data)

    def check(self, trailers: dict[str, str]) -> dict[str, str]:
        """Raises the S3 error for the first digest that does not match;
        returns the verified additional checksums (algorithm -> base64)."""
        if self._content_md5 is not None and self.md5.digest() != self._content_md5:
            raise errors.BadDigest()
        if self._sha is not None and self._sha.hexdigest() != self._payload_sha256:
            raise errors.XAmzContentSHA256Mismatch()
        verified = {}
        for algorithm, expected in self._expected.items():
            if expected is None:
                expected = trailers.get(f"x-amz-checksum-{algorithm}")
                if expected is None:
                    raise errors.InvalidRequest(
                        f"The x-amz-checksum-{algorithm} trailer declared in x-amz-trailer "
                        "is missing."
                    )
            actual = base64.b64encode(self._hashers[algorithm].digest()).decode()
            if actual != expected:
                raise errors.BadDigest(
                    f"The {algorithm.upper()} you specified did not match the calculated checksum."
                )
            verified[algorithm] = actual
        for algorithm, hasher in self._hashers.items():
            if algorithm not in verified:
                verified[algorithm] = base64.b64encode(hasher.digest()).decode()
        return verified

    def etag(self) -> str:
        return self.md5.hexdigest()
