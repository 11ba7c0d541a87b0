"""KMS keys and bucket default encryption in the state machine."""

from __future__ import annotations

import pytest

from metadata.mutations import CreateBucket, CreateKmsKey, SetBucketAccess
from metadata.state import StateMachine
from tessera import errors
from tests.unit.metadata.test_state import one, run


def test_kms_keys_by_id_and_alias(state: StateMachine) -> None:
    one(state, CreateKmsKey("k1", "id-1", "team", "abcd", 1.0))
    one(state, CreateKmsKey("k2", "id-2", "", "ef01", 2.0))
    assert state.get_kms_key("team").key_id == "id-1"
    assert state.get_kms_key("id-1").wrapped_key == bytes.fromhex("abcd")
    assert state.get_kms_key("id-2").alias == ""
    # A taken alias: nothing changes, the existing key is the result.
    again = one(state, CreateKmsKey("k3", "id-3", "team", "9999", 3.0))
    assert again.key_id == "id-1"
    assert [k.key_id for k in state.list_kms_keys()] == ["id-1", "id-2"]
    assert [o.error_code for o in run(state, CreateKmsKey("k4", "id-2", "", "00", 4.0))] == [
        "EntityAlreadyExists"
    ]
    with pytest.raises(errors.KMS_NotFoundException):
        state.get_kms_key("nope")


def test_kms_key_input_is_checked(state: StateMachine) -> None:
    for rid, key_id, alias, wrapped in [
        ("b1", "", "a", "00"),
        ("b2", "a/b", "a", "00"),
        ("b3", "x" * 65, "a", "00"),
        ("b4", "ok", "a", "not hex"),
        ("b5", "ok", "a" * 257, "00"),
    ]:
        with pytest.raises(errors.InvalidArgument):
            one(state, CreateKmsKey(rid, key_id, alias, wrapped, 1.0))
    assert state.list_kms_keys() == []


def test_bucket_default_encryption_field(state: StateMachine) -> None:
    one(state, CreateBucket("c", "b", "owner", 1.0))
    config = '{"algorithm": "aws:kms", "kms_key_id": "team"}'
    one(state, SetBucketAccess("e1", "b", "encryption", config))
    assert state.get_bucket("b").encryption == config
    for rid, bad in [
        ("e2", "not json"),
        ("e3", '{"algorithm": "DES"}'),
        ("e4", '{"algorithm": "AES256", "kms_key_id": "k"}'),
    ]:
        with pytest.raises((errors.MalformedXML, errors.InvalidArgument)):
            one(state, SetBucketAccess(rid, "b", "encryption", bad))
    assert state.get_bucket("b").encryption == config
    one(state, SetBucketAccess("e5", "b", "encryption", ""))
    assert state.get_bucket("b").encryption == ""
