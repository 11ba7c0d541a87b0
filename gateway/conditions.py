"""HTTP conditional headers against a version, as S3 evaluates them.

If-Match / If-Unmodified-Since fail with 412; If-None-Match /
If-Modified-Since are "not modified" (304 on GET and HEAD). If-Match takes
precedence over If-Unmodified-Since, and If-None-Match over
If-Modified-Since. CopyObject evaluates the same four under the
x-amz-copy-source- prefix, where "not modified" is also a 412.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from tessera.model import ObjectVersion

NOT_MODIFIED = 304
PRECONDITION_FAILED = 412


def _http_date(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None  # S3 ignores a date it cannot parse


def etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/").strip('"') == etag for t in tags)


def evaluate(headers: Mapping[str, str], version: ObjectVersion, prefix: str = "") -> int | None:
    """304, 412, or None when every condition holds."""
    modified = int(version.last_modified)
    if_match = headers.get(prefix + "If-Match")
    if if_match is not None:
        if not etag_matches(if_match, version.etag):
            return PRECONDITION_FAILED
    else:
        since = _http_date(headers.get(prefix + "If-Unmodified-Since"))
        if since is not None and modified > since:
            return PRECONDITION_FAILED
    if_none_match = headers.get(prefix + "If-None-Match")
    if if_none_match is not None:
        if etag_matches(if_none_match, version.etag):
            return NOT_MODIFIED
    else:
        since = _http_date(headers.get(prefix + "If-Modified-Since"))
        if since is not None and modified <= since:
            return NOT_MODIFIED
    return None
