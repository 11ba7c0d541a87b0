"""The ListObjectVersions walk over a bucket's version records.

Records come from an ordered namespace where each stored key starts with the
object key: the ``v/`` records of a versioned bucket (key, NUL, inverted
sequence: a key's versions newest first), or the ``o/`` records of a bucket
that never had versioning (one null version per key). ``key_of`` recovers the
object key of a stored key.

Semantics (S3 ListObjectVersions): entries in key order, each key's versions
newest first, the first of each key marked latest; with a delimiter, keys
holding it past the prefix roll up into common prefixes (one seek each);
``max_keys`` counts versions, delete markers and prefixes together; the page
starts at ``start`` (the caller resolves key-marker / version-id-marker into
a stored key) and skips ``skip`` (the marker's own record). The next markers
are the last entry returned.

Invariant: pure — reads only through the cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from metadata.keys import prefix_end
from metadata.listing import Cursor
from tessera.model import NULL_VERSION_ID, Listed, VersionsPage


def walk(
    cursor: Cursor,
    namespace: bytes,
    key_of: Callable[[bytes], str],
    prefix: str,
    delimiter: str,
    start: bytes,
    skip_key: str,
    max_keys: int,
    decode: Callable[[bytes], Listed],
) -> VersionsPage[Listed]:
    """Lists from ``start``; a record of ``skip_key`` met first is not latest
    (the page resumes inside that key's versions). decode: a stored record
    into what the page holds (a whole version, or its listing summary)."""
    if max_keys <= 0:
        return VersionsPage((), (), False, "", "")
    base = namespace + prefix.encode()
    entries: list[tuple[Listed, bool]] = []
    prefixes: list[str] = []
    previous_key = skip_key
    truncated = False
    cursor.seek(max(base, start))
    while cursor.valid():
        full: bytes = cursor.key()
        if not full.startswith(base):
            break
        key = key_of(full)
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter)]
            if common != skip_key:  # the previous page stopped at this prefix
                if len(entries) + len(prefixes) == max_keys:
                    truncated = True
                    break
                prefixes.append(common)
            end = prefix_end(namespace + common.encode())
            if end is None:
                break
            cursor.seek(end)
            continue
        if len(entries) + len(prefixes) == max_keys:
            truncated = True
            break
        version = decode(cursor.value())
        if not version.s3_version_id:
            version = replace(version, s3_version_id=NULL_VERSION_ID)
        entries.append((version, key != previous_key))
        previous_key = key
        cursor.next()
    next_key = next_version = ""
    if truncated:
        if prefixes and (not entries or prefixes[-1] > entries[-1][0].key):
            next_key = prefixes[-1]
        else:
            next_key = entries[-1][0].key
            next_version = entries[-1][0].s3_version_id
    return VersionsPage(tuple(entries), tuple(prefixes), truncated, next_key, next_version)
