"""Invariant checks over a recorded history (chaos/history.py): pure functions.

Each returns a Verdict (held, or not, with the violating keys). Keys are
registers: a PUT writes its body's hash, a DELETE writes "absent", a GET
reads. A write with an UNKNOWN outcome may have taken effect at any moment
after it started (or never), exactly as in chaos/linearizability.py, which
does the per-key search.

- no corrupt reads: every body read is one that was written to that key;
- zero acknowledged writes lost: the final read of a key returns what its
  last acknowledged write wrote, or what a write that may have landed after it
  (unknown outcome, or overlapping it) wrote;
- acknowledged deletes never come back: the same, when that last
  acknowledged write was a DELETE;
- reads return the latest acknowledged version or a newer one: each key's
  whole history (reads during the run and the final read) is linearizable;
- list after write: a LIST shows a key whose writes before it all completed
  iff the last of them was a PUT;
- conditional PUT: at most one If-None-Match: * PUT of a key succeeds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from chaos import linearizability as lin
from chaos.history import (
    DELETE,
    FAIL,
    FINAL_GET,
    GET,
    LIST,
    OK,
    PUT_IF_ABSENT,
    UNKNOWN,
    WRITES,
    Record,
)

VIOLATIONS_SHOWN = 10


@dataclass(frozen=True)
class Verdict:
    name: str
    held: bool | None  # None: not checked (detail says why)
    detail: str
    violations: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return {True: "held", False: "VIOLATED", None: "not checked"}[self.held]


def _verdict(name: str, violations: list[str], checked: str) -> Verdict:
    if violations:
        shown = violations[:VIOLATIONS_SHOWN]
        more = len(violations) - len(shown)
        detail = f"{len(violations)} violation(s)" + (f", {more} not shown" if more else "")
        return Verdict(name, False, detail, tuple(shown))
    return Verdict(name, True, checked)


def _by_key(records: Sequence[Record]) -> dict[str, list[Record]]:
    keys: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.kind != LIST:
            keys[r.key].append(r)
    return keys


def _written(r: Record) -> str | None:
    return None if r.kind == DELETE else r.value


def _took_effect_maybe(r: Record) -> bool:
    return r.kind in WRITES and r.outcome in (OK, UNKNOWN)


def no_corrupt_reads(records: Sequence[Record]) -> Verdict:
    written: dict[str, set[str | None]] = defaultdict(set)
    for r in records:
        if r.kind in WRITES and r.kind != DELETE:
            written[r.key].add(r.value)
    bad = [
        f"{r.key}: read sha256 {str(r.value)[:16]}… at t={r.start:.2f} s, never written"
        for r in records
        if r.kind in (GET, FINAL_GET) and r.outcome == OK and r.value is not None
        and r.value not in written[r.key]
    ]  # fmt: skip
    reads = sum(1 for r in records if r.kind in (GET, FINAL_GET) and r.outcome == OK)
    return _verdict("no corrupt bytes ever read", bad, f"{reads} successful reads checked")


def final_state(records: Sequence[Record]) -> tuple[Verdict, Verdict]:
    """(zero acknowledged writes lost, acknowledged deletes never come back)."""
    lost: list[str] = []
    resurrected: list[str] = []
    writes_checked = deletes_checked = 0
    for key, ops in sorted(_by_key(records).items()):
        finals = [r for r in ops if r.kind == FINAL_GET and r.outcome == OK]
        acked = [r for r in ops if r.kind in WRITES and r.outcome == OK]
        if not finals or not acked:
            continue
        final = finals[-1]
        last = max(acked, key=lambda r: r.end)
        allowed = {_written(last)}
        for r in ops:
            if _took_effect_maybe(r) and (r.outcome == UNKNOWN or r.end > last.start):
                allowed.add(_written(r))
        if last.kind == DELETE:
            deletes_checked += 1
        else:
            writes_checked += 1
        if final.value in allowed:
            continue
        if last.kind == DELETE:
            resurrected.append(
                f"{key}: deleted at t={last.end:.2f} s (acknowledged), "
                f"read back sha256 {str(final.value)[:16]}… after the run"
            )
        else:
            got = "absent" if final.value is None else f"sha256 {final.value[:16]}…"
            lost.append(
                f"{key}: {last.kind} acknowledged at t={last.end:.2f} s "
                f"(sha256 {str(last.value)[:16]}…), read back {got} after the run"
            )
    return (
        _verdict(
            "zero acknowledged writes lost",
            lost,
            f"{writes_checked} keys whose last ack was a write",
        ),
        _verdict(
            "acknowledged deletes never come back",
            resurrected,
            f"{deletes_checked} keys whose last ack was a delete",
        ),
    )


def _register_op(r: Record) -> lin.Op | None:
    end = r.end if r.outcome != UNKNOWN else math.inf
    result = {OK: lin.OK, FAIL: lin.FAIL, UNKNOWN: lin.UNKNOWN}[r.outcome]
    if r.kind in (GET, FINAL_GET):
        if r.outcome != OK:
            return None  # a failed read tells nothing
        return lin.Op("read", None, r.value, r.start, r.end, str(r.worker))
    if r.kind == PUT_IF_ABSENT:
        return lin.Op("put_if_absent", r.value, result, r.start, end, str(r.worker))
    if r.kind in WRITES:
        if r.outcome == FAIL:
            return None  # refused: never took effect
        return lin.Op("write", _written(r), result, r.start, end, str(r.worker))
    return None


def reads_linearizable(records: Sequence[Record], ops_max: int = 400) -> Verdict:
    bad = []
    checked = skipped = 0
    for key, ops in sorted(_by_key(records).items()):
        history = [op for op in (_register_op(r) for r in ops) if op is not None]
        if len(history) > ops_max:
            skipped += 1
            continue
        checked += 1
        ok, why = lin.check(history)
        if not ok:
            bad.append(f"{key}: {why}")
    note = f"{checked} keys' histories linearizable"
    if skipped:
        note += f"; {skipped} keys with more than {ops_max} operations not searched"
    return _verdict("every read returns the latest acknowledged version or a newer one", bad, note)


def list_after_write(records: Sequence[Record]) -> Verdict:
    bad = []
    lists = [r for r in records if r.kind == LIST and r.outcome == OK]
    by_key = _by_key(records)
    checked = 0
    for listing in lists:
        shown = set(listing.listed)
        for key, ops in by_key.items():
            if not key.startswith(listing.key):
                continue
            writes = [r for r in ops if _took_effect_maybe(r) and r.start < listing.end]
            if not writes or any(r.outcome == UNKNOWN or r.end > listing.start for r in writes):
                continue  # in flight or uncertain: either answer is fine
            checked += 1
            present = _written(max(writes, key=lambda r: r.end)) is not None
            if present and key not in shown:
                bad.append(f"LIST {listing.key!r} at t={listing.start:.2f} s misses {key}")
            elif not present and key in shown:
                bad.append(f"LIST {listing.key!r} at t={listing.start:.2f} s shows deleted {key}")
    return _verdict("list after write", bad, f"{len(lists)} listings, {checked} key checks")


def conditional_put(records: Sequence[Record], enforced: bool) -> Verdict:
    name = "conditional PUT (If-None-Match: *) has one winner per key"
    if not enforced:
        return Verdict(name, None, "this build does not enforce If-None-Match on PUT (probed)")
    winners: dict[str, int] = defaultdict(int)
    attempts = 0
    for r in records:
        if r.kind == PUT_IF_ABSENT:
            attempts += 1
            winners[r.key] += r.outcome == OK
    bad = [f"{key}: {n} If-None-Match PUTs succeeded" for key, n in winners.items() if n > 1]
    return _verdict(name, bad, f"{attempts} attempts on {len(winners)} keys")


def check_history(records: Sequence[Record], conditional_enforced: bool) -> list[Verdict]:
    lost, resurrected = final_state(records)
    return [
        lost,
        no_corrupt_reads(records),
        resurrected,
        reads_linearizable(records),
        list_after_write(records),
        conditional_put(records, conditional_enforced),
    ]
