"""The pending writes of one batch being applied, layered over the database.

Mutations in one batch must see each other's effects (create a bucket, then
put an object into it) before the batch is written. Every write goes both into
the rocksdict WriteBatch and into an in-memory map that reads consult first.

Invariant: reading through the overlay gives exactly what reading the database
would give after the WriteBatch was written.
"""

from __future__ import annotations

from rocksdict import Rdict, WriteBatch


class Overlay:
    def __init__(self, db: Rdict) -> None:
        self._db = db
        self.batch = WriteBatch(raw_mode=True)
        self._pending: dict[bytes, bytes | None] = {}  # None: deleted

    def get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        value: bytes | None = self._db.get(key)
        return value

    def put(self, key: bytes, value: bytes) -> None:
        self._pending[key] = value
        self.batch.put(key, value)

    def delete(self, key: bytes) -> None:
        self._pending[key] = None
        self.batch.delete(key)

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
