"""The register linearizability checker used by the metadata fault tests
(tests/integration/linearizability.py): known cases, and agreement with a
brute-force reference on small random histories."""

from __future__ import annotations

import itertools
import math
import random

from chaos.linearizability import FAIL, OK, UNKNOWN, Op, _branches, check

INF = math.inf


def w(v: str, start: float, end: float = INF) -> Op:
    return Op("write", v, OK if end != INF else UNKNOWN, start, end)


def r(v: str | None, start: float, end: float) -> Op:
    return Op("read", None, v, start, end)


def test_sequential_history() -> None:
    assert check([w("a", 0, 1), r("a", 2, 3), w("b", 4, 5), r("b", 6, 7)])[0]


def test_a_stale_read_is_caught() -> None:
    ok, why = check([w("a", 0, 1), r(None, 2, 3)])
    assert not ok and "no linearization" in why


def test_concurrent_reads_never_go_back_in_time() -> None:
    assert check([w("a", 0, 5), r(None, 1, 2), r("a", 3, 4)])[0]
    assert not check([w("a", 0, 5), r("a", 1, 2), r(None, 3, 4)])[0]


def test_an_unknown_write_may_land_late_or_never() -> None:
    assert check([w("b", 0), r(None, 10, 11), r("b", 12, 13)])[0]
    assert check([w("b", 0), r(None, 10, 11)])[0]
    assert not check([w("b", 0), r("b", 10, 11), r(None, 12, 13)])[0]


def test_conditional_writes() -> None:
    cas_ab = Op("cas", ("a", "b"), OK, 2, 3)
    assert check([w("a", 0, 1), cas_ab, r("b", 4, 5)])[0]
    assert not check([w("a", 0, 1), cas_ab, Op("cas", ("a", "c"), OK, 4, 5)])[0]
    assert check([w("a", 0, 1), cas_ab, Op("cas", ("a", "c"), FAIL, 4, 5)])[0]
    both = [Op("put_if_absent", "x", OK, 0, 2), Op("put_if_absent", "y", OK, 1, 3)]
    assert not check(both)[0]
    one = [Op("put_if_absent", "x", OK, 0, 2), Op("put_if_absent", "y", FAIL, 1, 3)]
    assert check([*one, r("x", 4, 5)])[0]


def brute_force(ops: list[Op]) -> bool:
    for order in itertools.permutations(ops):
        if any(
            b.end < a.start for i, a in enumerate(order) for b in order[i + 1 :]
        ):  # b ended before a started, yet comes after it
            continue
        states: list[str | None] = [None]
        for op in order:
            states = [after for s in states for after in _branches(s, op)]
            if not states:
                break
        if states:
            return True
    return False


def random_history(rng: random.Random) -> list[Op]:
    ops = []
    for i in range(rng.randint(1, 6)):
        start = rng.uniform(0, 10)
        end = start + rng.uniform(0.1, 4) if rng.random() > 0.15 else INF
        kind = rng.choice(["write", "read", "read", "cas", "put_if_absent"])
        value = f"v{i}"
        if kind == "read":
            ops.append(r(rng.choice([None, "v0", "v1", "v2"]), start, start + rng.uniform(0.1, 4)))
        elif kind == "write":
            ops.append(Op("write", value, OK if end != INF else UNKNOWN, start, end))
        else:
            result = UNKNOWN if end == INF else rng.choice([OK, FAIL])
            arg = (rng.choice(["v0", "v1"]), value) if kind == "cas" else value
            ops.append(Op(kind, arg, result, start, end))
    return ops


def test_agrees_with_brute_force_on_random_histories() -> None:
    rng = random.Random(4)
    verdicts = []
    for _ in range(400):
        ops = random_history(rng)
        verdict = check(ops)[0]
        assert verdict == brute_force(ops), ops
        verdicts.append(verdict)
    assert any(verdicts) and not all(verdicts)
