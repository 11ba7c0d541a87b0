"""Conditional writes decided at apply time: If-None-Match: * and If-Match
against the key's current version (PutObject and CompleteMultipartUpload).

Invariant: the decision depends only on the current record and the
mutation's own fields, so every replica decides alike.
"""

from __future__ import annotations

from tessera import errors
from tessera.model import ObjectVersion


def etag_matches(wanted: str, etag: str) -> bool:
    """If-Match compares ETags with or without their quotes; "*" matches any."""
    wanted = wanted.strip()
    return wanted == "*" or wanted.strip('"') == etag.strip('"')


def check(current: ObjectVersion | None, if_none_match_star: bool, if_match_etag: str) -> None:
    """PreconditionFailed (or NoSuchKey for If-Match on a missing key) unless
    the conditions hold."""
    if if_none_match_star and current is not None:
        raise errors.PreconditionFailed("the key already has a current version")
    if if_match_etag and (current is None or not etag_matches(if_match_etag, current.etag)):
        if current is None:
            raise errors.NoSuchKey()
        raise errors.PreconditionFailed("the current version's ETag does not match")
