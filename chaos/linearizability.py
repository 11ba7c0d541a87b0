"""A linearizability checker for one register (one S3 key), Wing & Gong style.

Knossos and Porcupine are not available here, so this is a small one of our
own, for the histories the metadata fault tests and the chaos harness record
(chaos/invariants.py, one register per key): operations on one key
whose value is the current version's ETag (every write's ETag is unique).

Operations (Op.kind):
- "write" v            a PUT: the value becomes v;
- "read"               a GET: result is the value, or None (no such key);
- "put_if_absent" v    If-None-Match: * — ok: the key had no value, now v;
                       "fail": it had one;
- "cas" (e, v)         If-Match e — ok: the value was e, now v; "fail": it was
                       not e (including no value).

An operation whose outcome is unknown (a timeout, a 503: it may or may not
have taken effect) has end = inf: it may be linearized anywhere after it
started, which at the end of the history is the same as never. Reads with an
unknown outcome tell nothing and should be left out.

The search (Wing & Gong, with Lowe's memoization of (linearized set, value)
as in Porcupine): repeatedly pick an operation that could be linearized next
(one that started before every pending operation's end), apply it to the
model, and backtrack when the model disagrees with the recorded result.

Invariant: check() returns True exactly when some total order of the
operations respects real time (a before b whenever a ended before b started)
and every result matches the register model in that order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

UNKNOWN = "unknown"
OK = "ok"
FAIL = "fail"


@dataclass(frozen=True)
class Op:
    kind: str  # write | read | put_if_absent | cas
    arg: Any  # the value written, or (expected, value) for cas; None for read
    result: Any  # reads: the value read (None: no such key); others: OK, FAIL or UNKNOWN
    start: float
    end: float = math.inf  # inf: outcome unknown
    client: str = ""


def _step(state: str | None, op: Op) -> tuple[bool, str | None]:
    """(does op's recorded result fit state, the state after it)."""
    if op.kind == "read":
        return op.result == state, state
    if op.kind == "write":
        return True, op.arg
    if op.kind == "put_if_absent":
        if op.result == UNKNOWN:
            return True, op.arg if state is None else state
        if op.result == OK:
            return state is None, op.arg
        return state is not None, state
    if op.kind == "cas":
        expected, value = op.arg
        if op.result == UNKNOWN:
            return True, value if state == expected else state
        if op.result == OK:
            return state == expected, value
        return state != expected, state
    raise ValueError(f"unknown operation {op.kind!r}")


def _branches(state: str | None, op: Op) -> list[str | None]:
    """Every state op may leave behind (an unknown write: applied or not)."""
    fits, after = _step(state, op)
    if not fits:
        return []
    if op.end == math.inf and op.kind != "read" and after != state:
        return [after, state]
    return [after]


def check(history: Sequence[Op], initial: str | None = None) -> tuple[bool, str]:
    """(linearizable?, an explanation when not)."""
    ops = sorted(history, key=lambda o: o.start)
    n = len(ops)
    full = (1 << n) - 1
    seen: set[tuple[int, str | None]] = set()
    # Iterative DFS: each frame is (linearized mask, state, candidate moves left).
    stack: list[tuple[int, str | None, list[tuple[int, str | None]]]] = []
    deepest = 0

    def moves(mask: int, state: str | None) -> list[tuple[int, str | None]]:
        pending = [i for i in range(n) if not mask >> i & 1]
        horizon = min(ops[i].end for i in pending)
        found = []
        for i in pending:
            if ops[i].start > horizon:
                break
            for after in _branches(state, ops[i]):
                found.append((i, after))
        return found

    stack.append((0, initial, moves(0, initial)))
    while stack:
        mask, _, options = stack[-1]
        if mask == full:
            return True, ""
        if not options:
            stack.pop()
            continue
        i, after = options.pop()
        new_mask = mask | 1 << i
        if (new_mask, after) in seen:
            continue
        seen.add((new_mask, after))
        deepest = max(deepest, bin(new_mask).count("1"))
        if new_mask == full:
            return True, ""
        # Ops left with a known end that must still come first are handled by moves().
        stack.append((new_mask, after, moves(new_mask, after)))
    return False, f"no linearization; the longest valid prefix has {deepest} of {n} operations"
