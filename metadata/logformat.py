"""The format of the shared metadata log kept in etcd (pure: no I/O).

The log is the history of one etcd key, ``<prefix>/log``: every put of it is
one log entry, and its etcd revision is the entry's place in the total order.
An entry is a group-committed batch of mutations, as compact JSON:

    {"v": 1, "batch": "<replica id>.<boot nonce>.<sequence>",
     "m": [<mutation fields>, ...]}

``batch`` names the append so that the replica that wrote it can hand each
caller its outcome when it applies the entry; ``m`` holds the mutations in
submission order (metadata/mutations.py to_fields/from_fields).

Positions: the state machine numbers mutations, not entries. The i-th
mutation of the entry at revision r has position ``r * ENTRY_MUTATIONS_MAX + i``,
so positions increase strictly along the log, a whole entry is applied in one
WriteBatch, and ``revision_of(applied position)`` is the last revision applied.

Invariant: decode(encode(batch, ms)) == (batch, ms); an entry never holds more
than ENTRY_MUTATIONS_MAX mutations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from metadata.mutations import LogEntry, Mutation, from_fields, to_fields
from tessera import fastjson

FORMAT_VERSION = 1
ENTRY_MUTATIONS_MAX = 4096


@dataclass(frozen=True, slots=True)
class Entry:
    batch_id: str
    mutations: tuple[Mutation, ...]


def position(revision: int, index: int) -> int:
    assert revision >= 0 and 0 <= index < ENTRY_MUTATIONS_MAX
    return revision * ENTRY_MUTATIONS_MAX + index


def revision_of(position_: int) -> int:
    return position_ // ENTRY_MUTATIONS_MAX


def encode(batch_id: str, mutations: Sequence[Mutation]) -> bytes:
    assert 0 < len(mutations) <= ENTRY_MUTATIONS_MAX
    body = {"v": FORMAT_VERSION, "batch": batch_id, "m": [to_fields(m) for m in mutations]}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes) -> Entry:
    # fastjson: an entry's integers came through protobuf's 64-bit fields
    body = fastjson.loads(raw)
    if body.get("v") != FORMAT_VERSION:
        raise ValueError(f"unknown log entry format {body.get('v')!r}")
    return Entry(str(body["batch"]), tuple(from_fields(m) for m in body["m"]))


def mutation_bytes(mutation: Mutation) -> int:
    """The size of one mutation in an entry (for the entry size limit)."""
    return len(json.dumps(to_fields(mutation), separators=(",", ":"))) + 1


def log_entries(revision: int, entry: Entry) -> list[LogEntry]:
    """The entry's mutations at their positions."""
    return [LogEntry(position(revision, i), m) for i, m in enumerate(entry.mutations)]
