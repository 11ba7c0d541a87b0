"""Lifecycle rules: S3's checks, the stored form, and what they decide."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera import errors
from tessera.lifecycle import (
    Action,
    Rule,
    RuleFilter,
    VersionFacts,
    check_rules,
    due_at,
    format_date,
    parse_date,
    plan_key,
    rules_from_json,
    rules_to_json,
    scan_prefixes,
    upload_due,
)

DAY = 86400.0
T0 = 1_700_006_400.0  # 2023-11-15T00:00:00Z, a day boundary


def rule(**fields: object) -> Rule:
    values: dict[str, object] = {"rule_id": "r", "enabled": True, "filter": RuleFilter()}
    values.update(fields)
    return Rule(**values)  # type: ignore[arg-type]


def v(vid: str, at: float, marker: bool = False, **fields: object) -> VersionFacts:
    return VersionFacts(vid, at, delete_marker=marker, **fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (rule(), "InvalidRequest"),  # no action
        (rule(expiration_days=0), "InvalidArgument"),
        (rule(expiration_days=-3), "InvalidArgument"),
        (rule(expiration_days=1, expiration_date_seconds=int(T0)), "MalformedXML"),
        (rule(expiration_date_seconds=int(T0) + 1), "InvalidArgument"),
        (rule(expiration_days=1, expired_object_delete_marker=True), "InvalidArgument"),
        (rule(noncurrent_days=0), "InvalidArgument"),
        (rule(noncurrent_days=1, newer_noncurrent_versions=0), "InvalidArgument"),
        (rule(noncurrent_days=1, newer_noncurrent_versions=101), "InvalidArgument"),
        (rule(abort_upload_days=0), "InvalidArgument"),
        (rule(rule_id="x" * 256, expiration_days=1), "InvalidArgument"),
        (
            rule(abort_upload_days=1, filter=RuleFilter(tags=(("a", "b"),))),
            "InvalidRequest",
        ),
        (
            rule(expired_object_delete_marker=True, filter=RuleFilter(tags=(("a", "b"),))),
            "InvalidRequest",
        ),
        (
            rule(expiration_days=1, filter=RuleFilter(tags=(("a", "1"), ("a", "2")))),
            "InvalidRequest",
        ),
        (rule(expiration_days=1, filter=RuleFilter(tags=(("", "1"),))), "InvalidTag"),
        (
            rule(
                expiration_days=1,
                filter=RuleFilter(size_greater_than_bytes=10, size_less_than_bytes=10),
            ),
            "InvalidArgument",
        ),
    ],
)
def test_bad_rules_get_s3_codes(bad: Rule, code: str) -> None:
    with pytest.raises(errors.TesseraError) as caught:
        check_rules([bad])
    assert caught.value.code == code


def test_rule_ids_are_unique_and_a_configuration_is_not_empty() -> None:
    with pytest.raises(errors.InvalidArgument):
        check_rules([rule(expiration_days=1), rule(expiration_days=2)])
    with pytest.raises(errors.MalformedXML):
        check_rules([])
    check_rules([rule(expiration_days=1), rule(rule_id="s", abort_upload_days=3)])


def test_dates_are_midnight_utc() -> None:
    assert parse_date("2023-11-15T00:00:00.000Z") == int(T0)
    assert parse_date("2023-11-15") == int(T0)
    assert format_date(int(T0)) == "2023-11-15T00:00:00.000Z"
    with pytest.raises(errors.InvalidArgument):
        parse_date("2023-11-15T01:00:00Z")
    with pytest.raises(errors.InvalidArgument):
        parse_date("not a date")


def test_stored_form_round_trips() -> None:
    rules = [
        rule(
            rule_id="a",
            filter=RuleFilter(
                prefix="logs/", tags=(("k", "v"),), size_greater_than_bytes=5, form="filter"
            ),
            expiration_days=3,
            noncurrent_days=2,
            newer_noncurrent_versions=4,
        ),
        rule(
            rule_id="b",
            enabled=False,
            filter=RuleFilter(prefix="x", form="prefix"),
            abort_upload_days=7,
            expired_object_delete_marker=True,
        ),
        rule(rule_id="c", expiration_date_seconds=int(T0)),
    ]
    assert rules_from_json(rules_to_json(rules)) == rules


# ---------------------------------------------------------------- time


def test_due_rounds_up_to_the_next_day_boundary() -> None:
    assert due_at(T0, 1, DAY) == T0 + DAY
    assert due_at(T0 + 1, 1, DAY) == T0 + 2 * DAY
    assert due_at(T0 + DAY - 1, 2, DAY) == T0 + 3 * DAY
    assert due_at(10.5, 3, 2.0) == 18.0


@given(
    start=st.floats(min_value=0, max_value=4e9),
    days=st.integers(min_value=1, max_value=3650),
    day=st.sampled_from([1.0, 2.0, 60.0, DAY]),
)
def test_due_is_the_first_boundary_at_or_after_start_plus_days(
    start: float, days: int, day: float
) -> None:
    due = due_at(start, days, day)
    assert due >= start + days * day
    assert due - day < start + days * day
    assert due % day == 0


# ---------------------------------------------------------------- evaluation


def test_current_version_expires_after_its_days() -> None:
    rules = [rule(expiration_days=2)]
    records = [v("v1", T0 + 100)]
    assert plan_key(rules, "k", records, T0 + 3 * DAY - 1, DAY) == []
    assert plan_key(rules, "k", records, T0 + 3 * DAY, DAY) == [(records[0], Action.EXPIRE_CURRENT)]


def test_expiration_date_applies_to_everything_matching_from_that_day() -> None:
    rules = [rule(expiration_date_seconds=int(T0 + DAY))]
    records = [v("v1", T0 + 5 * DAY)]  # created after the date: still expires
    assert plan_key(rules, "k", records, T0 + DAY - 1, DAY) == []
    assert plan_key(rules, "k", records, T0 + 6 * DAY, DAY)[0][1] == Action.EXPIRE_CURRENT


def test_disabled_rules_do_nothing() -> None:
    rules = [rule(enabled=False, expiration_days=1)]
    assert plan_key(rules, "k", [v("v1", T0)], T0 + 100 * DAY, DAY) == []


def test_filters_prefix_tags_and_size() -> None:
    f = RuleFilter(prefix="logs/", tags=(("team", "a"),), size_greater_than_bytes=10)
    rules = [rule(filter=f, expiration_days=1)]
    now = T0 + 10 * DAY
    hit = v("v1", T0, size_bytes=11, tags={"team": "a", "x": "y"})
    assert plan_key(rules, "logs/1", [hit], now, DAY) == [(hit, Action.EXPIRE_CURRENT)]
    assert plan_key(rules, "other/1", [hit], now, DAY) == []
    assert (
        plan_key(rules, "logs/1", [v("v1", T0, size_bytes=10, tags={"team": "a"})], now, DAY) == []
    )
    assert (
        plan_key(rules, "logs/1", [v("v1", T0, size_bytes=11, tags={"team": "b"})], now, DAY) == []
    )
    assert plan_key(rules, "logs/1", [v("v1", T0, size_bytes=11)], now, DAY) == []


def test_noncurrent_versions_count_from_when_they_were_replaced() -> None:
    rules = [rule(noncurrent_days=1)]
    records = [v("v3", T0 + 2 * DAY), v("v2", T0 + DAY), v("v1", T0)]
    # v1 noncurrent since T0+DAY (due T0+2D), v2 since T0+2D (due T0+3D)
    assert plan_key(rules, "k", records, T0 + 2 * DAY - 1, DAY) == []
    assert plan_key(rules, "k", records, T0 + 2 * DAY, DAY) == [
        (records[2], Action.DELETE_NONCURRENT)
    ]
    assert [a for _, a in plan_key(rules, "k", records, T0 + 3 * DAY, DAY)] == [
        Action.DELETE_NONCURRENT,
        Action.DELETE_NONCURRENT,
    ]


def test_newer_noncurrent_versions_are_kept() -> None:
    rules = [rule(noncurrent_days=1, newer_noncurrent_versions=2)]
    records = [v(f"v{i}", T0 + (5 - i) * 60) for i in range(5)]  # v0 newest
    due = plan_key(rules, "k", records, T0 + 10 * DAY, DAY)
    # v1, v2 are the two newest noncurrent versions: kept; v3, v4 go
    assert [r.version_id for r, _ in due] == ["v3", "v4"]


def test_only_a_lone_delete_marker_is_expired() -> None:
    rules = [rule(expired_object_delete_marker=True)]
    marker = v("m", T0, marker=True)
    assert plan_key(rules, "k", [marker], T0 + 1, DAY) == [(marker, Action.DELETE_EXPIRED_MARKER)]
    assert plan_key(rules, "k", [marker, v("v1", T0 - 5)], T0 + 1, DAY) == []
    # Expiration Days never removes a marker, and never "expires" one.
    assert plan_key([rule(expiration_days=1)], "k", [marker], T0 + 9 * DAY, DAY) == []


def test_marker_then_noncurrent_in_one_key() -> None:
    rules = [
        rule(expiration_days=1, noncurrent_days=1),
        rule(rule_id="m", expired_object_delete_marker=True),
    ]
    records = [v("m", T0 + DAY, marker=True), v("v1", T0)]
    assert plan_key(rules, "k", records, T0 + 2 * DAY, DAY) == [
        (records[1], Action.DELETE_NONCURRENT)
    ]


def test_uploads_abort_after_days_by_prefix() -> None:
    rules = [rule(filter=RuleFilter(prefix="tmp/"), abort_upload_days=1)]
    assert not upload_due(rules, "tmp/a", T0, T0 + DAY - 1, DAY)
    assert upload_due(rules, "tmp/a", T0, T0 + DAY, DAY)
    assert not upload_due(rules, "keep/a", T0, T0 + 9 * DAY, DAY)
    assert not upload_due([rule(expiration_days=1)], "tmp/a", T0, T0 + 9 * DAY, DAY)


def test_scan_prefixes_cover_every_rule_once() -> None:
    def r(i: int, prefix: str, **action: object) -> Rule:
        return rule(rule_id=str(i), filter=RuleFilter(prefix=prefix), **action)

    rules = [
        r(1, "logs/2024/", expiration_days=1),
        r(2, "logs/", noncurrent_days=1),
        r(3, "tmp/", expired_object_delete_marker=True),
        r(4, "uploads/", abort_upload_days=1),
        r(5, "off/", expiration_days=1, enabled=False),
    ]
    assert scan_prefixes(rules) == ["logs/", "tmp/"]
    assert scan_prefixes(rules, uploads=True) == ["uploads/"]
    assert scan_prefixes([*rules, r(6, "", expiration_days=2)]) == [""]
    assert scan_prefixes([r(7, "", abort_upload_days=1)]) == []
