"""Object Lock: retention modes, a bucket's default retention rule, and the
rules that decide whether a version may be removed or its retention changed —
pure functions, no I/O (docs/object-lock.md).

Invariant: ``check_removable`` is the one decision on removing a version's
record. The metadata state machine calls it in every effect that drops a
version (DeleteObject by id, a replaced null version, an unversioned delete),
with the metadata service's clock stamped into the mutation, so every path
that deletes through the log — S3 requests, lifecycle, admin tools — is
refused alike while a retention has not ended or a legal hold is on. Only
GOVERNANCE retention yields, and only to a request that carries a checked
bypass; COMPLIANCE retention and legal holds never do. GC and repair never
drop records; GC keeps every shard a record references, so a locked
version's shards stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from tessera import errors

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)
LEGAL_HOLD_ON = "ON"
LEGAL_HOLD_OFF = "OFF"
DAY_SECONDS = 86_400
YEAR_DAYS = 365
# A default rule longer than a century is surely a typo (S3 caps years at 100).
RETENTION_DAYS_MAX = 36_500
RETENTION_YEARS_MAX = 100
LOCKED_MESSAGE = "Access Denied because object protected by object lock."


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    """A bucket's default retention: every new version gets ``mode`` until
    its commit time plus ``days`` (or ``years``; exactly one is set)."""

    mode: str
    days: int = 0
    years: int = 0

    @property
    def period_seconds(self) -> float:
        return float((self.days or self.years * YEAR_DAYS) * DAY_SECONDS)


@dataclass(frozen=True, slots=True)
class Lock:
    """The lock state of one version: a retention (mode "" for none; retain_until
    in unix seconds) and a legal hold."""

    mode: str = ""
    retain_until: float = 0.0
    legal_hold: bool = False

    def retained(self, now: float) -> bool:
        return bool(self.mode) and self.retain_until > now


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise errors.MalformedXML(f"Unknown object lock mode {mode!r} (GOVERNANCE, COMPLIANCE).")
    return mode


def check_default_rule(mode: str, days: int, years: int) -> DefaultRetention:
    """A valid default rule, or the S3 error for the XML that asked for it."""
    check_mode(mode)
    if bool(days) == bool(years):
        raise errors.MalformedXML("A default retention has exactly one of Days and Years.")
    if days < 0 or years < 0:
        raise errors.InvalidArgument("Default retention period must be a positive integer value.")
    if days > RETENTION_DAYS_MAX or years > RETENTION_YEARS_MAX:
        raise errors.InvalidArgument("Default retention period is too large.")
    return DefaultRetention(mode, days, years)


# A bucket's object_lock field: "" (Object Lock not enabled), "{}" (enabled,
# no default rule), or the default rule as JSON.
ENABLED_NO_RULE = "{}"


def config_to_json(rule: DefaultRetention | None) -> str:
    if rule is None:
        return ENABLED_NO_RULE
    body = {"mode": rule.mode, "days": rule.days, "years": rule.years}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def config_from_json(text: str) -> DefaultRetention | None:
    """The default rule of an enabled bucket's object_lock field (None: no rule).
    InvalidArgument for text config_to_json did not make (a log entry must fail
    as an S3 outcome, never crash apply)."""
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise TypeError("not an object")
        if not body:
            return None
        return check_default_rule(str(body["mode"]), int(body["days"]), int(body["years"]))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise errors.InvalidArgument("malformed object lock configuration") from exc


def default_lock(rule: DefaultRetention | None, now: float) -> Lock:
    """The retention a new version gets from its bucket's rule when its
    request named none."""
    if rule is None:
        return Lock()
    return Lock(rule.mode, now + rule.period_seconds)


def check_removable(lock: Lock, now: float, *, bypass_governance: bool) -> None:
    """Raises AccessDenied unless a version with this lock may be removed at ``now``.

    bypass_governance: the request sent x-amz-bypass-governance-retention and
    its requester holds s3:BypassGovernanceRetention (the gateway checked).
    """
    if lock.legal_hold:
        raise errors.AccessDenied(LOCKED_MESSAGE)
    if not lock.retained(now):
        return
    if lock.mode == GOVERNANCE and bypass_governance:
        return
    raise errors.AccessDenied(LOCKED_MESSAGE)


def check_new_retention(mode: str, retain_until: float, now: float) -> None:
    """A retention asked for on a new or existing version: a mode and a future date."""
    check_mode(mode)
    if retain_until <= now:
        raise errors.InvalidArgument("The retain until date must be in the future!")


def check_retention_change(
    current: Lock, mode: str, retain_until: float, now: float, *, bypass_governance: bool
) -> None:
    """Whether a version's retention may become (mode, retain_until) — mode ""
    removes it. A retention that has ended is replaced freely; an active one
    may always be made stronger (same date or later, and COMPLIANCE or the
    same mode); weakening an active GOVERNANCE retention needs the bypass;
    an active COMPLIANCE retention is never weakened."""
    if mode:
        check_new_retention(mode, retain_until, now)
    if not current.retained(now):
        return
    stronger = bool(mode) and retain_until >= current.retain_until
    stronger = stronger and (mode == COMPLIANCE or mode == current.mode)
    if stronger:
        return
    if current.mode == GOVERNANCE and bypass_governance:
        return
    raise errors.AccessDenied(LOCKED_MESSAGE)


def parse_date(text: str) -> float:
    """An ISO 8601 date (x-amz-object-lock-retain-until-date, RetainUntilDate)
    as unix seconds; InvalidArgument otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        message = f"The retain until date {text!r} is not a valid date."
        raise errors.InvalidArgument(message) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_date(seconds: float) -> str:
    """Unix seconds as S3 writes RetainUntilDate (ISO 8601, UTC, milliseconds)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
