"""What an object read tells HTTP caches: the Cache-Control of a GET or HEAD
answer, and the check of a bucket's default Cache-Control (docs/cdn-and-apps.md).

Pure: no I/O. The gateway decides who may read (tessera/access.py) and
whether the request was pre-signed; this module only turns those facts into
a header.

Invariant: an answer about an object that is not readable by everyone is never
storable by a shared cache unless it was pre-signed and the object's own
Cache-Control says so — a header-signed read always says ``private`` (or
``no-store``; the object's other directives are kept), and a pre-signed one
says ``private`` unless the object carries a Cache-Control of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from tessera import errors

# A version never changes, so a versioned URL of a public object may be
# cached for as long as caches keep anything (RFC 8246's immutable; one year
# is the customary "forever", RFC 9111 recommends no more).
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
PRIVATE_CACHE_CONTROL = "private"
CACHE_CONTROL_CHARS_MAX = 1024
# Directives that keep a shared cache from storing (RFC 9111 §3, §5.2.2).
_NOT_SHARED = frozenset({"private", "no-store"})
# Directives that only speak to (or open the door for) shared caches.
_SHARED_ONLY = frozenset({"public", "s-maxage", "proxy-revalidate"})
# A token or token=value list, as Cache-Control's grammar allows (no CR/LF,
# no control characters: the value goes out as a header).
_DIRECTIVES = re.compile(
    r'\s*[!#$%&\'*+.^_`|~0-9A-Za-z-]+(=([!#$%&\'*+.^_`|~0-9A-Za-z-]+|"[^"\\\x00-\x1f]*"))?\s*'
)


class Reader(Enum):
    """How the request that reads an object was authorized."""

    ANYONE = "anyone"  # the object is readable by everyone (ACL or policy)
    PRESIGNED = "presigned"  # not public; a pre-signed URL (query signature)
    SIGNED = "signed"  # not public; an Authorization header


@dataclass(frozen=True)
class CacheInputs:
    stored: str  # the object's own Cache-Control ("" when it has none)
    bucket_default: str  # the bucket's default Cache-Control ("" for none)
    reader: Reader
    versioned_url: bool  # the request named ?versionId=


def directives(value: str) -> set[str]:
    """The directive names of a Cache-Control value, lower-cased."""
    return {d.split("=", 1)[0].strip().lower() for d in value.split(",") if d.strip()}


def cache_control(inputs: CacheInputs) -> str:
    """The Cache-Control of a GET/HEAD answer ("" for none)."""
    stored = inputs.stored
    if inputs.reader is Reader.ANYONE:
        if inputs.versioned_url and not directives(stored) & {"no-store", "no-cache", "private"}:
            return IMMUTABLE_CACHE_CONTROL
        return stored or inputs.bucket_default
    if inputs.reader is Reader.PRESIGNED:
        return stored or PRIVATE_CACHE_CONTROL
    return _made_private(stored)


def _made_private(stored: str) -> str:
    """stored as a private answer: unchanged when it already keeps shared
    caches out; otherwise "private" first, without the shared-cache-only
    directives, keeping the rest (max-age still guides the browser's cache)."""
    if directives(stored) & _NOT_SHARED:
        return stored
    kept = [
        d.strip()
        for d in stored.split(",")
        if d.strip() and d.split("=", 1)[0].strip().lower() not in _SHARED_ONLY
    ]
    return ", ".join([PRIVATE_CACHE_CONTROL, *kept])


def check_cache_control(value: str) -> str:
    """A bucket default Cache-Control, checked ("" removes it); InvalidArgument
    for anything that is not a plain directive list."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > CACHE_CONTROL_CHARS_MAX:
        raise errors.InvalidArgument(
            f"A Cache-Control value is at most {CACHE_CONTROL_CHARS_MAX} characters."
        )
    if not all(_DIRECTIVES.fullmatch(part) for part in value.split(",")):
        raise errors.InvalidArgument(f"Not a Cache-Control directive list: {value!r}")
    return value
