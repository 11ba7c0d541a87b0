"""Bucket lifecycle rules: their checks, their stored form, and what they
decide for the versions of one key and for one multipart upload (pure).

A rule expires current versions (Expiration Days or Date), removes
noncurrent versions (NoncurrentVersionExpiration, optionally keeping the
NewerNoncurrentVersions newest of them), removes delete markers that are the
last record of their key (ExpiredObjectDeleteMarker), and aborts multipart
uploads (AbortIncompleteMultipartUpload). docs/lifecycle.md has the rules of
time: "Days" counts from the version's creation (or, for a noncurrent
version, from when a newer version replaced it) and is rounded up to the
next day boundary, as S3 rounds to the next midnight UTC; a "day" is
``day_seconds`` long (86,400 unless an operator scales it down for tests).

Invariants:
- every rule set stored on a bucket passed check_rules, so evaluation never
  meets a rule without an action or with a non-positive day count;
- evaluation reads only its arguments (no clock): the same versions, rules
  and ``now_seconds`` always give the same actions;
- a key's newest record is the only one EXPIRE_CURRENT can name, a delete
  marker is removed only when it is the key's only record, and a noncurrent
  version only once at least NewerNoncurrentVersions newer noncurrent
  versions exist.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tessera import errors, limits
from tessera.tagging import check_tags

SECONDS_PER_DAY = 86400

STATUS_ENABLED = "Enabled"
STATUS_DISABLED = "Disabled"

FORM_FILTER = "filter"  # <Filter> (current API)
FORM_PREFIX = "prefix"  # the rule's own <Prefix> (the deprecated API)


class Action(StrEnum):
    """What lifecycle does to one record; the values are metric labels."""

    EXPIRE_CURRENT = "expire_current"  # delete it (unversioned) or add a delete marker
    DELETE_NONCURRENT = "delete_noncurrent"
    DELETE_EXPIRED_MARKER = "delete_expired_marker"
    ABORT_UPLOAD = "abort_upload"


@dataclass(frozen=True)
class RuleFilter:
    """Which objects a rule applies to: all conditions must hold."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than_bytes: int | None = None
    size_less_than_bytes: int | None = None
    form: str = FORM_FILTER

    def matches(self, key: str, tags: Mapping[str, str], size_bytes: int) -> bool:
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(k) != v for k, v in self.tags):
            return False
        if self.size_greater_than_bytes is not None and size_bytes <= self.size_greater_than_bytes:
            return False
        return self.size_less_than_bytes is None or size_bytes < self.size_less_than_bytes


@dataclass(frozen=True)
class Rule:
    rule_id: str
    enabled: bool
    filter: RuleFilter
    expiration_days: int | None = None
    expiration_date_seconds: int | None = None  # unix seconds at midnight UTC
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_upload_days: int | None = None

    @property
    def has_action(self) -> bool:
        return (
            self.expiration_days is not None
            or self.expiration_date_seconds is not None
            or self.expired_object_delete_marker
            or self.noncurrent_days is not None
            or self.abort_upload_days is not None
        )


@dataclass(frozen=True)
class VersionFacts:
    """What evaluation needs of one record of a key (a version or a delete marker)."""

    version_id: str
    last_modified: float
    delete_marker: bool = False
    size_bytes: int = 0
    tags: Mapping[str, str] | None = None


# ---------------------------------------------------------------- checks


def check_rules(rules: Sequence[Rule]) -> None:
    """Raises the S3 error PutBucketLifecycleConfiguration gives for these rules."""
    if not rules:
        raise errors.MalformedXML("A lifecycle configuration needs at least one Rule.")
    if len(rules) > limits.LIFECYCLE_RULES_MAX:
        raise errors.MalformedXML("A lifecycle configuration holds at most 1000 rules.")
    seen: set[str] = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise errors.InvalidArgument(
                "Rule ID must be unique. Found same ID for more than one rule"
            )
        seen.add(rule.rule_id)
        check_rule(rule)


def check_rule(rule: Rule) -> None:
    if len(rule.rule_id) > limits.LIFECYCLE_RULE_ID_CHARS_MAX:
        raise errors.InvalidArgument("ID length should not exceed allowed limit of 255")
    if not rule.has_action:
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    _check_filter(rule.filter)
    if rule.expiration_days is not None and rule.expiration_date_seconds is not None:
        raise errors.MalformedXML("Expiration takes Days or Date, not both.")
    if rule.expiration_days is not None and rule.expiration_days <= 0:
        raise errors.InvalidArgument("'Days' for Expiration action must be a positive integer")
    if rule.expiration_date_seconds is not None and rule.expiration_date_seconds % SECONDS_PER_DAY:
        raise errors.InvalidArgument("'Date' must be at midnight GMT")
    if rule.expired_object_delete_marker and (
        rule.expiration_days is not None or rule.expiration_date_seconds is not None
    ):
        raise errors.InvalidArgument(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date "
            "in a Lifecycle Expiration Policy"
        )
    if rule.noncurrent_days is not None and rule.noncurrent_days <= 0:
        raise errors.InvalidArgument(
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"
        )
    if rule.newer_noncurrent_versions is not None:
        if rule.noncurrent_days is None:
            raise errors.MalformedXML("NewerNoncurrentVersions needs NoncurrentDays.")
        if (
            not 1
            <= rule.newer_noncurrent_versions
            <= limits.LIFECYCLE_NEWER_NONCURRENT_VERSIONS_MAX
        ):
            raise errors.InvalidArgument(
                "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action "
                "must be a positive integer up to 100"
            )
    if rule.abort_upload_days is not None and rule.abort_upload_days <= 0:
        raise errors.InvalidArgument(
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action "
            "must be a positive integer"
        )
    if rule.filter.tags and rule.abort_upload_days is not None:
        raise errors.InvalidRequest(
            "Tag-based filter cannot be used with AbortIncompleteMultipartUpload action"
        )
    if rule.filter.tags and rule.expired_object_delete_marker:
        raise errors.InvalidRequest(
            "Tag-based filter cannot be used with ExpiredObjectDeleteMarker action"
        )
    sized = (
        rule.filter.size_greater_than_bytes is not None
        or rule.filter.size_less_than_bytes is not None
    )
    if sized and rule.abort_upload_days is not None:
        raise errors.InvalidRequest(
            "Object size filter cannot be used with AbortIncompleteMultipartUpload action"
        )


def _check_filter(f: RuleFilter) -> None:
    keys = [k for k, _ in f.tags]
    if len(set(keys)) != len(keys):
        raise errors.InvalidRequest("Duplicate Tag Keys are not allowed.")
    check_tags(dict(f.tags))
    for size in (f.size_greater_than_bytes, f.size_less_than_bytes):
        if size is not None and size < 0:
            raise errors.InvalidArgument("An object size filter must not be negative.")
    low, high = f.size_greater_than_bytes, f.size_less_than_bytes
    if low is not None and high is not None and low >= high:
        raise errors.InvalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")


def parse_date(text: str) -> int:
    """An Expiration Date (ISO 8601) as unix seconds; InvalidArgument when unreadable."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise errors.InvalidArgument("Invalid Date: not an ISO 8601 date.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    seconds = parsed.timestamp()
    if seconds != int(seconds) or int(seconds) % SECONDS_PER_DAY:
        raise errors.InvalidArgument("'Date' must be at midnight GMT")
    return int(seconds)


def format_date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------- stored form


def rules_to_json(rules: Sequence[Rule]) -> str:
    body = []
    for r in rules:
        fields: dict[str, Any] = {
            "id": r.rule_id,
            "enabled": r.enabled,
            "filter": {
                "prefix": r.filter.prefix,
                "tags": [list(t) for t in r.filter.tags],
                "gt": r.filter.size_greater_than_bytes,
                "lt": r.filter.size_less_than_bytes,
                "form": r.filter.form,
            },
            "days": r.expiration_days,
            "date": r.expiration_date_seconds,
            "eodm": r.expired_object_delete_marker,
            "noncurrent_days": r.noncurrent_days,
            "newer_noncurrent": r.newer_noncurrent_versions,
            "abort_days": r.abort_upload_days,
        }
        body.append({k: v for k, v in fields.items() if v is not None})
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def rules_from_json(text: str) -> list[Rule]:
    """The rules of rules_to_json; ValueError/KeyError/TypeError on anything else."""
    rules = []
    for raw in json.loads(text):
        f = raw["filter"]
        rules.append(
            Rule(
                rule_id=str(raw["id"]),
                enabled=bool(raw["enabled"]),
                filter=RuleFilter(
                    prefix=str(f.get("prefix", "")),
                    tags=tuple((str(k), str(v)) for k, v in f.get("tags", [])),
                    size_greater_than_bytes=_int_or_none(f.get("gt")),
                    size_less_than_bytes=_int_or_none(f.get("lt")),
                    form=str(f.get("form", FORM_FILTER)),
                ),
                expiration_days=_int_or_none(raw.get("days")),
                expiration_date_seconds=_int_or_none(raw.get("date")),
                expired_object_delete_marker=bool(raw.get("eodm", False)),
                noncurrent_days=_int_or_none(raw.get("noncurrent_days")),
                newer_noncurrent_versions=_int_or_none(raw.get("newer_noncurrent")),
                abort_upload_days=_int_or_none(raw.get("abort_days")),
            )
        )
    return rules


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# ---------------------------------------------------------------- evaluation


def due_at(start_seconds: float, days: int, day_seconds: float) -> float:
    """When an action of ``days`` days counted from start_seconds falls due:
    start + days, rounded up to the next day boundary (midnight UTC for
    86,400-second days)."""
    assert days > 0 and day_seconds > 0, (days, day_seconds)
    return math.ceil((start_seconds + days * day_seconds) / day_seconds) * day_seconds


def plan_key(
    rules: Sequence[Rule],
    key: str,
    records: Sequence[VersionFacts],
    now_seconds: float,
    day_seconds: float,
) -> list[tuple[VersionFacts, Action]]:
    """The actions due for the records of one key, given newest first (in an
    unversioned bucket: its one current version)."""
    active = [r for r in rules if r.enabled]
    if not active or not records:
        return []
    due: list[tuple[VersionFacts, Action]] = []
    newest = records[0]
    if newest.delete_marker:
        if len(records) == 1 and any(
            r.expired_object_delete_marker and _matches(r, key, newest) for r in active
        ):
            due.append((newest, Action.DELETE_EXPIRED_MARKER))
    elif any(_current_expired(r, key, newest, now_seconds, day_seconds) for r in active):
        due.append((newest, Action.EXPIRE_CURRENT))
    for index in range(1, len(records)):
        record = records[index]
        noncurrent_since = records[index - 1].last_modified
        newer_noncurrent = index - 1
        if any(
            _noncurrent_expired(
                r, key, record, noncurrent_since, newer_noncurrent, now_seconds, day_seconds
            )
            for r in active
        ):
            due.append((record, Action.DELETE_NONCURRENT))
    return due


def upload_due(
    rules: Sequence[Rule],
    key: str,
    initiated_seconds: float,
    now_seconds: float,
    day_seconds: float,
) -> bool:
    """Whether a multipart upload of key started at initiated_seconds is to be aborted."""
    return any(
        r.enabled
        and r.abort_upload_days is not None
        and key.startswith(r.filter.prefix)
        and now_seconds >= due_at(initiated_seconds, r.abort_upload_days, day_seconds)
        for r in rules
    )


def _acts_on_versions(rule: Rule) -> bool:
    return (
        rule.expiration_days is not None
        or rule.expiration_date_seconds is not None
        or rule.expired_object_delete_marker
        or rule.noncurrent_days is not None
    )


def scan_prefixes(rules: Sequence[Rule], uploads: bool = False) -> list[str]:
    """The key prefixes a pass must walk to meet every key an enabled rule
    with a version action (uploads: with an abort action) may match: none
    covered by another, in key order; [""] when a rule matches any key."""
    wanted = sorted(
        {
            r.filter.prefix
            for r in rules
            if r.enabled and (r.abort_upload_days is not None if uploads else _acts_on_versions(r))
        }
    )
    kept: list[str] = []
    for prefix in wanted:  # sorted: a covering prefix comes before what it covers
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept


def _matches(rule: Rule, key: str, record: VersionFacts) -> bool:
    return rule.filter.matches(key, record.tags or {}, record.size_bytes)


def _current_expired(
    rule: Rule, key: str, record: VersionFacts, now: float, day_seconds: float
) -> bool:
    if not _matches(rule, key, record):
        return False
    if rule.expiration_date_seconds is not None and now >= rule.expiration_date_seconds:
        return True
    return rule.expiration_days is not None and now >= due_at(
        record.last_modified, rule.expiration_days, day_seconds
    )


def _noncurrent_expired(
    rule: Rule,
    key: str,
    record: VersionFacts,
    noncurrent_since: float,
    newer_noncurrent: int,
    now: float,
    day_seconds: float,
) -> bool:
    if rule.noncurrent_days is None or not _matches(rule, key, record):
        return False
    if (
        rule.newer_noncurrent_versions is not None
        and newer_noncurrent < rule.newer_noncurrent_versions
    ):
        return False
    return now >= due_at(noncurrent_since, rule.noncurrent_days, day_seconds)
