"""Users, access keys, bucket access fields and object ACLs in the state machine."""

from __future__ import annotations

import pytest

from metadata.mutations import (
    CreateAccessKey,
    CreateBucket,
    CreateUser,
    DeleteBucket,
    DeleteUser,
    PutObject,
    RevokeAccessKey,
    SetBucketAccess,
    SetObjectAcl,
)
from metadata.state import StateMachine
from tessera import errors
from tests.unit.metadata.conftest import VersionFactory
from tests.unit.metadata.test_state import one, run

POLICY = (
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",'
    '"Resource":"arn:aws:s3:::b/p/*"}]}'
)


def test_users_and_keys(state: StateMachine) -> None:
    one(state, CreateUser("u1", "alice", 1.0))
    assert [o.error_code for o in run(state, CreateUser("u2", "alice", 2.0))] == [
        "EntityAlreadyExists"
    ]
    with pytest.raises(errors.NoSuchEntity):
        one(state, CreateAccessKey("k0", "TK1", "nobody", "00", 1.0))
    one(state, CreateAccessKey("k1", "TK1", "alice", "abcd", 3.0))
    one(state, CreateAccessKey("k2", "TK2", "alice", "ef", 3.0))
    key = state.get_access_key("TK1")
    assert (key.user, key.sealed_secret) == ("alice", bytes.fromhex("abcd"))
    assert [k.access_key_id for k in state.list_access_keys("alice")] == ["TK1", "TK2"]
    one(state, RevokeAccessKey("r1", "TK1"))
    with pytest.raises(errors.NoSuchEntity):
        state.get_access_key("TK1")
    with pytest.raises(errors.NoSuchEntity):
        one(state, RevokeAccessKey("r2", "TK1"))
    # A user owning a bucket cannot go; once the bucket is gone, its keys go with it.
    one(state, CreateBucket("b1", "b", "user:alice", 1.0))
    with pytest.raises(errors.DeleteConflict):
        one(state, DeleteUser("d1", "alice", "user:alice"))
    one(state, DeleteBucket("b2", "b"))
    one(state, DeleteUser("d2", "alice", "user:alice"))
    assert state.list_users() == []
    assert state.list_access_keys() == []


def test_user_names_are_checked(state: StateMachine) -> None:
    for bad in ("", "a b", "x" * 65, "user:x"):
        with pytest.raises(errors.InvalidArgument):
            one(state, CreateUser(f"bad-{bad}", bad, 1.0))


def test_bucket_access_fields(state: StateMachine) -> None:
    one(state, CreateBucket("c", "b", "owner", 1.0, acl="public-read"))
    assert state.get_bucket("b").acl == "public-read"
    one(state, SetBucketAccess("s1", "b", "acl", "private"))
    one(state, SetBucketAccess("s2", "b", "policy", POLICY))
    assert state.get_bucket("b").policy == POLICY
    for rid, field, value, code in [
        ("s3", "policy", "{}", errors.MalformedPolicy),
        ("s4", "acl", "public-read-write", errors.InvalidArgument),
        ("s5", "no-such-field", "", errors.InvalidArgument),
    ]:
        with pytest.raises(code):
            one(state, SetBucketAccess(rid, "b", field, value))
    for rid, bad_cors in [("c1", "not json"), ("c2", "[{}]"), ("c3", '[{"origins": 1}]')]:
        with pytest.raises(errors.InvalidArgument):
            one(state, SetBucketAccess(rid, "b", "cors", bad_cors))
    one(state, CreateUser("u", "carol", 1.0))
    with pytest.raises(errors.InvalidArgument):
        one(state, CreateAccessKey("k", "TK", "carol", "not hex", 1.0))
    one(state, SetBucketAccess("s6", "b", "policy", ""))
    bucket = state.get_bucket("b")
    assert (bucket.acl, bucket.policy) == ("private", "")
    with pytest.raises(errors.NoSuchBucket):
        one(state, SetBucketAccess("s7", "nope", "acl", "private"))


def test_object_acl(state: StateMachine, make_version: VersionFactory) -> None:
    one(state, CreateBucket("c", "b", "owner", 1.0))
    one(state, PutObject("p", make_version("b", "k")))
    assert state.get_object("b", "k").acl == ""
    one(state, SetObjectAcl("a1", "b", "k", "public-read"))
    assert state.get_object("b", "k").acl == "public-read"
    one(state, SetObjectAcl("a2", "b", "k", "private"))
    assert state.get_object("b", "k").acl == ""
    with pytest.raises(errors.NoSuchKey):
        one(state, SetObjectAcl("a3", "b", "missing", "public-read"))


def test_lifecycle_and_tags_fields_are_checked_when_applied(state: StateMachine) -> None:
    one(state, CreateBucket("c", "b", "alice", 1.0))
    good = '[{"days":1,"enabled":true,"filter":{"prefix":"p/"},"id":"r"}]'
    assert one(state, SetBucketAccess("l1", "b", "lifecycle", good)).lifecycle == good  # type: ignore[attr-defined]
    bad_rules = [
        ("l2", "not json", "InvalidArgument"),
        ("l3", '[{"enabled":true}]', "InvalidArgument"),
        ("l4", '[{"days":0,"enabled":true,"filter":{},"id":"r"}]', "InvalidArgument"),
        ("l5", '[{"enabled":true,"filter":{},"id":"r"}]', "InvalidRequest"),
        ("l6", "[]", "MalformedXML"),
    ]
    for rid, value, code in bad_rules:
        assert [
            o.error_code for o in run(state, SetBucketAccess(rid, "b", "lifecycle", value))
        ] == [code]
    assert state.get_bucket("b").lifecycle == good
    one(state, SetBucketAccess("t1", "b", "tags", '{"team":"a"}'))
    for rid, value in [("t2", "[1]"), ("t3", '{"k":1}'), ("t4", '{"":"v"}')]:
        assert run(state, SetBucketAccess(rid, "b", "tags", value))[0].error_code in (
            "InvalidArgument",
            "InvalidTag",
        )
    too_many = "{" + ",".join(f'"k{i}":"v"' for i in range(51)) + "}"
    assert [o.error_code for o in run(state, SetBucketAccess("t5", "b", "tags", too_many))] == [
        "InvalidTag"
    ]
    assert state.get_bucket("b").tags == '{"team":"a"}'
    one(state, SetBucketAccess("t6", "b", "tags", ""))
    one(state, SetBucketAccess("l7", "b", "lifecycle", ""))
    assert (state.get_bucket("b").tags, state.get_bucket("b").lifecycle) == ("", "")
