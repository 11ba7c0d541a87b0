"""The invariant checks on synthetic histories, including ones that must fail."""

from __future__ import annotations

from chaos import invariants
from chaos.history import DELETE, FAIL, FINAL_GET, GET, LIST, OK, PUT, PUT_IF_ABSENT, UNKNOWN
from chaos.history import Record as R


def verdicts(records: list[R]) -> dict[str, bool | None]:
    return {v.name: v.held for v in invariants.check_history(records, conditional_enforced=True)}


LOST = "zero acknowledged writes lost"
CORRUPT = "no corrupt bytes ever read"
RESURRECTED = "acknowledged deletes never come back"
LINEAR = "every read returns the latest acknowledged version or a newer one"
LISTING = "list after write"
COND = "conditional PUT (If-None-Match: *) has one winner per key"


def test_a_clean_history_holds() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(GET, "k", 2, 3, OK, "a"),
        R(PUT, "k", 4, 5, OK, "b"),
        R(LIST, "", 6, 7, OK, listed=("k",)),
        R(FINAL_GET, "k", 10, 11, OK, "b"),
    ]
    assert all(verdicts(history).values())


def test_a_lost_write_is_caught() -> None:
    history = [R(PUT, "k", 0, 1, OK, "a"), R(FINAL_GET, "k", 10, 11, OK, None)]
    v = verdicts(history)
    assert v[LOST] is False and v[LINEAR] is False


def test_an_older_version_after_the_run_is_a_lost_write() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(PUT, "k", 2, 3, OK, "b"),
        R(FINAL_GET, "k", 10, 11, OK, "a"),
    ]
    assert verdicts(history)[LOST] is False


def test_an_unknown_write_may_or_may_not_land() -> None:
    for final in ("a", "b"):
        history = [
            R(PUT, "k", 0, 1, OK, "a"),
            R(PUT, "k", 2, 3, UNKNOWN, "b"),
            R(FINAL_GET, "k", 10, 11, OK, final),
        ]
        assert all(verdicts(history).values()), final


def test_a_refused_write_must_not_land() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(PUT, "k", 2, 3, FAIL, "b"),
        R(FINAL_GET, "k", 10, 11, OK, "b"),
    ]
    assert verdicts(history)[LOST] is False


def test_a_resurrected_delete_is_caught() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(DELETE, "k", 2, 3, OK),
        R(FINAL_GET, "k", 10, 11, OK, "a"),
    ]
    v = verdicts(history)
    assert v[RESURRECTED] is False and v[LOST] is True


def test_corrupt_bytes_are_caught() -> None:
    history = [R(PUT, "k", 0, 1, OK, "a"), R(GET, "k", 2, 3, OK, "zz")]
    assert verdicts(history)[CORRUPT] is False


def test_a_stale_read_during_the_run_is_caught() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(PUT, "k", 2, 3, OK, "b"),
        R(GET, "k", 4, 5, OK, "a"),
        R(FINAL_GET, "k", 10, 11, OK, "b"),
    ]
    v = verdicts(history)
    assert v[LINEAR] is False and v[LOST] is True and v[CORRUPT] is True


def test_a_concurrent_read_may_see_either() -> None:
    history = [
        R(PUT, "k", 0, 1, OK, "a"),
        R(PUT, "k", 2, 5, OK, "b"),
        R(GET, "k", 3, 4, OK, "a"),
        R(FINAL_GET, "k", 10, 11, OK, "b"),
    ]
    assert verdicts(history)[LINEAR] is True


def test_listing_misses_and_ghosts() -> None:
    base = [R(PUT, "p/a", 0, 1, OK, "a"), R(PUT, "p/b", 0, 1, OK, "b"), R(DELETE, "p/b", 2, 3, OK)]
    good = [*base, R(LIST, "p/", 4, 5, OK, listed=("p/a",))]
    assert verdicts(good)[LISTING] is True
    missing = [*base, R(LIST, "p/", 4, 5, OK, listed=())]
    assert verdicts(missing)[LISTING] is False
    ghost = [*base, R(LIST, "p/", 4, 5, OK, listed=("p/a", "p/b"))]
    assert verdicts(ghost)[LISTING] is False
    in_flight = [*base, R(PUT, "p/c", 3.5, 6, OK, "c"), R(LIST, "p/", 4, 5, OK, listed=("p/a",))]
    assert verdicts(in_flight)[LISTING] is True


def test_two_conditional_winners_are_caught() -> None:
    history = [
        R(PUT_IF_ABSENT, "c", 0, 1, OK, "x", worker=0),
        R(PUT_IF_ABSENT, "c", 0, 1.5, OK, "y", worker=1),
    ]
    assert verdicts(history)[COND] is False
    history[1] = R(PUT_IF_ABSENT, "c", 0, 1.5, FAIL, "y", worker=1)
    assert verdicts(history)[COND] is True
    assert invariants.conditional_put(history, enforced=False).held is None
