"""Object Lock in the state machine: no effect removes a locked version —
DeleteObject by id (S3, lifecycle, admin tools all submit it), replacing a
null version, unversioned deletes — and retention changes follow the mode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from metadata.mutations import (
    CreateBucket,
    DeleteObject,
    PutBucketVersioning,
    PutObject,
    SetBucketAccess,
    SetObjectLock,
)
from metadata.state import StateMachine
from tessera import object_lock
from tessera.model import ObjectDeleted, ObjectVersion
from tests.unit.metadata.test_state import create, one, run

VersionFactory = Callable[..., ObjectVersion]
NOW = 1_800_000_000.0
DAY = 86_400.0


def locked_bucket(state: StateMachine, rule: str = "") -> None:
    one(state, CreateBucket("c-b", "b", "alice", NOW - DAY, object_lock=True))
    if rule:
        one(state, SetBucketAccess("rule", "b", "object_lock", rule))


def put(
    state: StateMachine, make: VersionFactory, n: int, now: float = NOW, **lock: object
) -> ObjectVersion:
    version = make("b", "k", version_id=f"{n:026d}", last_modified=now, **lock)
    one(state, PutObject(f"put-{n}", version, now=now))
    return state.get_object_version("b", "k", version.version_id)


def delete_version(
    state: StateMachine, version_id: str, now: float, rid: str, *, bypass: bool = False
) -> str:
    mutation = DeleteObject(
        rid, "b", "k", version_id, "m" * 26, last_modified=now, bypass_governance=bypass, now=now
    )
    return run(state, mutation)[0].error_code or "ok"


def retention(
    state: StateMachine, rid: str, mode: str, until: float, now: float, *, bypass: bool = False
) -> str:
    mutation = SetObjectLock(rid, "b", "k", "", "retention", mode, until, False, bypass, now)
    return run(state, mutation)[0].error_code or "ok"


def test_lock_bucket_is_versioned_for_good(state: StateMachine) -> None:
    locked_bucket(state)
    bucket = state.get_bucket("b")
    assert bucket.versioning == "Enabled" and bucket.object_lock_enabled
    outcome = run(state, PutBucketVersioning("susp", "b", "Suspended"))[0]
    assert outcome.error_code == "InvalidBucketState"
    assert state.get_bucket("b").versioning == "Enabled"


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_retained_version_survives_delete_until_its_date(
    state: StateMachine, make_version: VersionFactory, mode: str
) -> None:
    locked_bucket(state)
    v = put(state, make_version, 1, lock_mode=mode, retain_until=NOW + DAY)
    assert delete_version(state, v.version_id, NOW + 10, "d1") == "AccessDenied"
    assert state.get_object("b", "k").version_id == v.version_id
    # a delete marker is allowed (nothing is removed) ...
    marker = one(state, DeleteObject("dm", "b", "k", "", "m" * 26, NOW + 20, now=NOW + 20))
    assert isinstance(marker, ObjectDeleted) and marker.removed is None
    assert state.get_object_version("b", "k", v.version_id).lock_mode == mode
    # ... and once the date has passed, the version can go.
    assert delete_version(state, v.version_id, NOW + DAY + 1, "d2") == "ok"


def test_governance_yields_to_bypass_compliance_never(
    state: StateMachine, make_version: VersionFactory
) -> None:
    locked_bucket(state)
    gov = put(state, make_version, 1, lock_mode="GOVERNANCE", retain_until=NOW + DAY)
    comp = put(state, make_version, 2, lock_mode="COMPLIANCE", retain_until=NOW + DAY)
    assert delete_version(state, comp.version_id, NOW, "c1", bypass=True) == "AccessDenied"
    assert delete_version(state, gov.version_id, NOW, "g1", bypass=True) == "ok"


def test_legal_hold_blocks_even_bypass_until_released(
    state: StateMachine, make_version: VersionFactory
) -> None:
    locked_bucket(state)
    v = put(state, make_version, 1, legal_hold=True)
    assert delete_version(state, v.version_id, NOW, "h1", bypass=True) == "AccessDenied"
    off = SetObjectLock("off", "b", "k", v.version_id, "legal_hold", legal_hold=False, now=NOW)
    assert isinstance(one(state, off), ObjectVersion)
    assert delete_version(state, v.version_id, NOW, "h2") == "ok"


def test_default_retention_runs_from_the_commit_clock(
    state: StateMachine, make_version: VersionFactory
) -> None:
    rule = object_lock.config_to_json(object_lock.DefaultRetention("COMPLIANCE", days=2))
    locked_bucket(state, rule)
    # the gateway's last_modified is ignored: the metadata clock (now) counts
    version = make_version("b", "k", version_id="1" * 26, last_modified=NOW - 9 * DAY)
    one(state, PutObject("p", version, now=NOW))
    stored = state.get_object("b", "k")
    assert (stored.lock_mode, stored.retain_until) == ("COMPLIANCE", NOW + 2 * DAY)
    # a version that names its own retention keeps it
    own = put(state, make_version, 2, lock_mode="GOVERNANCE", retain_until=NOW + 5)
    assert (own.lock_mode, own.retain_until) == ("GOVERNANCE", NOW + 5)


def test_new_versions_need_a_future_date_and_a_lock_bucket(
    state: StateMachine, make_version: VersionFactory
) -> None:
    locked_bucket(state)
    past = make_version("b", "k", lock_mode="GOVERNANCE", retain_until=NOW - 1)
    assert run(state, PutObject("past", past, now=NOW))[0].error_code == "InvalidArgument"
    one(state, create("plain"))
    plain = make_version("plain", "k", lock_mode="GOVERNANCE", retain_until=NOW + DAY)
    assert run(state, PutObject("plain", plain, now=NOW))[0].error_code == "InvalidRequest"
    held = make_version("plain", "k", legal_hold=True)
    assert run(state, PutObject("held", held, now=NOW))[0].error_code == "InvalidRequest"


# (current mode, current until offset, new mode, new until offset, bypass, expected)
RETENTION_CHANGES = [
    ("COMPLIANCE", DAY, "COMPLIANCE", 2 * DAY, False, "ok"),  # extend
    ("COMPLIANCE", DAY, "COMPLIANCE", DAY / 2, True, "AccessDenied"),  # shorten
    ("COMPLIANCE", DAY, "GOVERNANCE", 2 * DAY, True, "AccessDenied"),  # weaker mode
    ("COMPLIANCE", DAY, "", 0.0, True, "AccessDenied"),  # remove
    ("GOVERNANCE", DAY, "GOVERNANCE", 2 * DAY, False, "ok"),
    ("GOVERNANCE", DAY, "COMPLIANCE", DAY, False, "ok"),  # stronger mode
    ("GOVERNANCE", DAY, "GOVERNANCE", DAY / 2, False, "AccessDenied"),
    ("GOVERNANCE", DAY, "GOVERNANCE", DAY / 2, True, "ok"),
    ("GOVERNANCE", DAY, "", 0.0, False, "AccessDenied"),
    ("GOVERNANCE", DAY, "", 0.0, True, "ok"),
    ("GOVERNANCE", DAY, "GOVERNANCE", -5.0, True, "InvalidArgument"),  # in the past
]


@pytest.mark.parametrize(
    ("mode", "until", "new_mode", "new_until", "bypass", "code"), RETENTION_CHANGES
)
def test_retention_changes(
    state: StateMachine,
    make_version: VersionFactory,
    mode: str,
    until: float,
    new_mode: str,
    new_until: float,
    bypass: bool,
    code: str,
) -> None:
    locked_bucket(state)
    before = put(state, make_version, 1, lock_mode=mode, retain_until=NOW + until)
    got = retention(state, "r", new_mode, NOW + new_until if new_mode else 0.0, NOW, bypass=bypass)
    assert got == code
    after = state.get_object("b", "k")
    if code != "ok":
        assert (after.lock_mode, after.retain_until) == (before.lock_mode, before.retain_until)
    else:
        assert after.lock_mode == new_mode


def test_expired_compliance_can_be_replaced(
    state: StateMachine, make_version: VersionFactory
) -> None:
    locked_bucket(state)
    put(state, make_version, 1, lock_mode="COMPLIANCE", retain_until=NOW + 10)
    assert retention(state, "r", "GOVERNANCE", NOW + DAY, NOW + 11) == "ok"


def test_unversioned_and_suspended_paths_check_the_lock(
    state: StateMachine, make_version: VersionFactory
) -> None:
    """Records written before a bucket had Object Lock cannot carry a lock,
    but the removal paths check anyway: a record with a lock is never
    dropped, whichever path reaches it."""
    one(state, create("b"))
    version = make_version("b", "k", version_id="1" * 26, last_modified=NOW)
    one(state, PutObject("p", version, now=NOW))
    # Write a locked record directly as an older replica might have held it.
    locked = replace(version, lock_mode="COMPLIANCE", retain_until=NOW + DAY)
    from metadata import keys
    from tessera.model import version_to_json

    state.db[keys.object_key("b", "k")] = version_to_json(locked)
    mutation = DeleteObject("d", "b", "k", last_modified=NOW, now=NOW)
    assert run(state, mutation)[0].error_code == "AccessDenied"
    overwrite = make_version("b", "k", version_id="2" * 26, last_modified=NOW)
    assert run(state, PutObject("o", overwrite, now=NOW))[0].error_code == "AccessDenied"
    assert state.get_object("b", "k").version_id == "1" * 26


def test_lock_configuration_rules(state: StateMachine) -> None:
    one(state, create("plain"))
    rule = object_lock.config_to_json(None)
    code = run(state, SetBucketAccess("x", "plain", "object_lock", rule))[0].error_code
    assert code == "InvalidBucketState"  # versioning must be on first
    one(state, PutBucketVersioning("v", "plain", "Enabled"))
    assert one(state, SetBucketAccess("y", "plain", "object_lock", rule)) is not None
    assert state.get_bucket("plain").object_lock_enabled
    code = run(state, SetBucketAccess("z", "plain", "object_lock", ""))[0].error_code
    assert code == "InvalidArgument"  # never disabled
