"""Condition values a request supplies, and the action each operation is
checked as (gateway/authorization.py), on aiohttp's mocked requests."""

from __future__ import annotations

import time

from aiohttp.test_utils import make_mocked_request

from gateway.authorization import allowed, condition_values, lock_values
from tessera.model import BucketInfo
from tessera.object_lock import Lock
from tessera.policy import whole_bucket_policy


def test_values_of_a_users_listing() -> None:
    request = make_mocked_request(
        "GET",
        "/b?prefix=home/&delimiter=/&max-keys=5&list-type=2",
        headers={"Referer": "https://example.com/x", "User-Agent": "boto3"},
    )
    values = condition_values(request, "user:alice")
    assert values["aws:username"] == "alice"
    assert values["aws:userid"] == "user:alice"
    assert values["aws:principaltype"] == "User"
    assert values["aws:securetransport"] == "false"
    assert values["aws:referer"] == "https://example.com/x"
    assert values["aws:useragent"] == "boto3"
    assert (values["s3:prefix"], values["s3:delimiter"], values["s3:max-keys"]) == (
        "home/",
        "/",
        "5",
    )


def test_values_of_anonymous_and_root() -> None:
    request = make_mocked_request("GET", "/b/k?versionId=v1", headers={"x-amz-acl": "private"})
    anonymous = condition_values(request, "")
    assert anonymous["aws:principaltype"] == "Anonymous" and "aws:username" not in anonymous
    assert anonymous["s3:versionid"] == "v1" and anonymous["s3:x-amz-acl"] == "private"
    root = condition_values(request, "ROOTKEYID")
    assert root["aws:principaltype"] == "Account" and "aws:username" not in root


def test_lock_values_round_days_up() -> None:
    assert lock_values(Lock()) == {}
    values = lock_values(Lock("COMPLIANCE", time.time() + 2.5 * 86_400))
    assert values == {
        "s3:object-lock-mode": "COMPLIANCE",
        "s3:object-lock-remaining-retention-days": "3",
    }


def test_a_version_id_makes_get_object_get_object_version() -> None:
    policy = (
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::b/*"}]}'
    )
    bucket = BucketInfo("b", "user:alice", 0.0, policy=policy)
    plain = make_mocked_request("GET", "/b/k")
    by_id = make_mocked_request("GET", "/b/k?versionId=v1")
    assert allowed(plain, bucket, "", "GetObject", key="k")
    assert not allowed(by_id, bucket, "", "GetObject", key="k")  # needs s3:GetObjectVersion
    whole = BucketInfo("b", "user:alice", 0.0, policy=whole_bucket_policy("b"))
    assert not allowed(plain, whole, "", "PutObject", key="k")
