"""The pending writes of one batch being applied, layered over the database.

Mutations in one batch must see each other's effects (create a bucket, then
put an object into it) before the batch is written. Every write goes both into
the rocksdict WriteBatch and into an in-memory map that reads consult first.

Invariant: reading through the overlay gives exactly what reading the database
would give after the WriteBatch was written. begin() marks the start of one
mutation; rollback() undoes every write since, so a mutation refused after
it computed its effect (a quota) leaves nothing in the batch.
"""

from __future__ import annotations

from typing import Any

from rocksdict import Rdict, WriteBatch

_ABSENT = object()


class Overlay:
    def __init__(self, db: Rdict) -> None:
        self._db = db
        self._pending: dict[bytes, bytes | None] = {}  # None: deleted
        # (key, pending entry before the write: _ABSENT when it had none) since begin()
        self._journal: list[tuple[bytes, bytes | object | None]] = []
        # Per-batch caches of derived values, owned by the module that names
        # them (metadata/usage.py); not rolled back: their owners update them
        # only once a mutation can no longer be refused.
        self.memo: dict[str, Any] = {}
        # Decoded forms of pending values, where the writer had one at hand
        # (a version record it encoded): kept only while that value is the
        # key's pending one, so the state can keep them decoded once written.
        self.decoded: dict[bytes, Any] = {}

    @property
    def batch(self) -> WriteBatch:
        """The WriteBatch of every pending write (each key's last write)."""
        batch = WriteBatch(raw_mode=True)
        for key, value in self._pending.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        return batch

    def written(self) -> list[bytes]:
        """Every key the batch writes or deletes."""
        return list(self._pending)

    def begin(self) -> None:
        """Starts a new undo scope (one mutation)."""
        self._journal.clear()

    def rollback(self) -> None:
        """Undoes every write since begin()."""
        while self._journal:
            key, before = self._journal.pop()
            self.decoded.pop(key, None)
            if before is _ABSENT:
                del self._pending[key]
            else:
                assert before is None or isinstance(before, bytes)
                self._pending[key] = before

    def _note(self, key: bytes) -> None:
        self._journal.append((key, self._pending.get(key, _ABSENT)))

    def get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        value: bytes | None = self._db.get(key)
        return value

    def put(self, key: bytes, value: bytes, decoded: Any = None) -> None:
        """decoded: what value decodes to, if the caller has it (else None)."""
        self._note(key)
        self._pending[key] = value
        if decoded is None:
            self.decoded.pop(key, None)
        else:
            self.decoded[key] = decoded

    def delete(self, key: bytes) -> None:
        self._note(key)
        self._pending[key] = None
        self.decoded.pop(key, None)

    def decoded_values(self) -> dict[bytes, tuple[Any, int]]:
        """Every pending value kept decoded, with its encoded length."""
        found = {}
        for key, decoded in self.decoded.items():
            value = self._pending.get(key)
            if value is not None:
                found[key] = (decoded, len(value))
        return found

    def is_deleted(self, key: bytes) -> bool:
        """True when this batch deleted key."""
        return key in self._pending and self._pending[key] is None

    def has_prefix(self, prefix: bytes) -> bool:
        """True when some live key starts with prefix."""
        for key, value in self._pending.items():
            if value is not None and key.startswith(prefix):
                return True
        cursor = self._db.iter()
        cursor.seek(prefix)
        # Keys deleted in this batch are skipped; there are at most batch-size of them.
        while cursor.valid():
            key = cursor.key()
            if not key.startswith(prefix):
                return False
            if key not in self._pending:
                return True
            cursor.next()
        return False

    def first(self, prefix: bytes) -> tuple[bytes, bytes] | None:
        """The smallest live key starting with prefix, and its value (None: none)."""
        best: tuple[bytes, bytes] | None = None
        cursor = self._db.iter()
        cursor.seek(prefix)
        while cursor.valid():
            key = cursor.key()
            if not key.startswith(prefix):
                break
            if key not in self._pending:
                best = (key, cursor.value())
                break
            cursor.next()
        for key, value in self._pending.items():
            if value is not None and key.startswith(prefix) and (best is None or key < best[0]):
                best = (key, value)
        return best

    def live_keys(self, start: bytes, end: bytes, limit: int) -> list[bytes]:
        """Up to limit live keys in [start, end), in key order."""
        found: list[bytes] = []
        cursor = self._db.iter()
        cursor.seek(start)
        while cursor.valid() and len(found) < limit:
            key = cursor.key()
            if key >= end:
                break
            if key not in self._pending:  # pending ones are added below if live
                found.append(key)
            cursor.next()
        found += [k for k, v in self._pending.items() if v is not None and start <= k < end]
        return sorted(found)[:limit]

    def scan(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every live key starting with prefix and its value, in key order."""
        found: dict[bytes, bytes] = {}
        cursor = self._db.iter()
        cursor.seek(prefix)
        while cursor.valid():
            key = cursor.key()
            if not key.startswith(prefix):
                break
            found[key] = cursor.value()
            cursor.next()
        for key, value in self._pending.items():
            if key.startswith(prefix):
                if value is None:
                    found.pop(key, None)
                else:
                    found[key] = value
        return sorted(found.items())
