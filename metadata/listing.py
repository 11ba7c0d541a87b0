"""The ListObjectsV2 walk over an ordered keyspace (prefix, delimiter, start_after).

The walk reads through a Cursor (a rocksdict RdictIter, or any ordered map in
tests). Keys are compared as UTF-8 bytes, the order S3 lists in.

Semantics (S3 ListObjectsV2):
- entries are the keys under ``prefix`` and, with a delimiter, the common
  prefixes that roll up every key containing the delimiter after ``prefix``;
  entries come out in key order, a common prefix at its own position;
- an entry is returned only if it comes after ``start_after``: a key greater
  than it, or a common prefix holding some key greater than it (so a
  start_after inside a common prefix returns that prefix, as S3 does with a
  marker) — except the common prefix equal to ``start_after``, which is where
  the previous page stopped;
- ``max_keys`` counts keys and common prefixes together; ``is_truncated`` says
  whether another entry exists; ``next_start_after`` is the last entry returned;
  ``max_keys`` 0 returns nothing and is not truncated.

Invariant: a common prefix costs one seek, never a scan of the keys under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from metadata.keys import prefix_end


class Cursor(Protocol):
    """An iterator over ordered bytes keys (the shape of rocksdict's RdictIter)."""

    def seek(self, key: bytes) -> None: ...
    def valid(self) -> bool: ...
    def key(self) -> bytes: ...
    def value(self) -> bytes: ...
    def next(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ListWalk:
    objects: tuple[tuple[str, bytes], ...]  # (key, stored value)
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_start_after: str


def walk(
    cursor: Cursor,
    namespace: bytes,
    prefix: str,
    delimiter: str,
    start_after: str,
    max_keys: int,
) -> ListWalk:
    """Lists the keys stored as ``namespace + key`` (see the module docstring)."""
    if max_keys <= 0:
        return ListWalk((), (), False, "")
    base = namespace + prefix.encode()
    after = namespace + start_after.encode()
    delim = delimiter.encode()
    objects: list[tuple[str, bytes]] = []
    prefixes: list[str] = []
    last = ""
    truncated = False
    cursor.seek(max(base, after))
    while cursor.valid():
        full: bytes = cursor.key()
        if not full.startswith(base):
            break
        if full == after:
            cursor.next()
            continue
        cut = full.find(delim, len(base)) if delim else -1
        if cut < 0:
            if len(objects) + len(prefixes) == max_keys:
                truncated = True
                break
            last = full[len(namespace) :].decode()
            objects.append((last, cursor.value()))
            cursor.next()
            continue
        group = full[: cut + len(delim)]
        common = group[len(namespace) :].decode()
        if common != start_after:
            if len(objects) + len(prefixes) == max_keys:
                truncated = True
                break
            prefixes.append(common)
            last = common
        end = prefix_end(group)
        if end is None:
            break
        cursor.seek(end)
    return ListWalk(tuple(objects), tuple(prefixes), truncated, last)
