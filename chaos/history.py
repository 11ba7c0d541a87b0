"""The record of a chaos run's workload: one Record per S3 request.

Outcomes: OK (the cluster answered with a definitive result: 200, 204, a 404
NoSuchKey for a read, a 412 for a conditional PUT that lost), FAIL (a
definitive refusal: the operation did not take effect, e.g. 412), UNKNOWN (a
5xx, a timeout, a reset: the operation may or may not have taken effect).
A write's `value` is the SHA-256 of the body sent; a read's is the SHA-256 of
the body received (None: no such key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"

# kinds
PUT = "put"
GET = "get"
DELETE = "delete"
LIST = "list"
PUT_IF_ABSENT = "put_if_absent"
MULTIPART = "multipart"
FINAL_GET = "final_get"  # the read-back after the run, once the faults are healed
WRITES = frozenset({PUT, DELETE, PUT_IF_ABSENT, MULTIPART})


@dataclass(frozen=True)
class Record:
    kind: str
    key: str  # for LIST: the prefix
    start: float  # seconds since the workload started
    end: float
    outcome: str
    value: str | None = None
    worker: int = -1
    error: str = ""  # the S3 error code or exception class when not OK
    listed: tuple[str, ...] = field(default=())  # LIST: the keys returned

    @property
    def answered(self) -> bool:
        """Counts as available: the cluster gave a definitive answer."""
        return self.outcome != UNKNOWN
