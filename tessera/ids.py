"""Identifiers: version ids and request ids.

A version id is 26 characters of lowercase base32hex: 48 bits of milliseconds
since the epoch followed by 80 random bits, so ids sort by creation time and
never collide in practice. Its text is safe in file names and URLs.
"""

from __future__ import annotations

import base64
import os
import time


def _b32(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def new_version_id(now_seconds: float | None = None) -> str:
    """Returns a new, time-ordered version id."""
    ms = int((time.time() if now_seconds is None else now_seconds) * 1000)
    return _b32(ms.to_bytes(6, "big") + os.urandom(10))


def new_request_id() -> str:
    """Returns a new request id (16 uppercase hex characters, like S3's)."""
    return os.urandom(8).hex().upper()


def is_version_id(text: str) -> bool:
    """True when text has the shape of a version id (safe for a file name)."""
    return len(text) == 26 and all(c in "0123456789abcdefghijklmnopqrstuv" for c in text)
