"""Policy evaluation, canned ACLs and CORS rule matching (pure)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera import access, errors
from tessera.access import CorsRule


def policy(*resources: str, **overrides: object) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": list(resources),
    }
    statement.update(overrides)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_prefix_grant() -> None:
    text = policy("arn:aws:s3:::b/public/*")
    assert access.policy_allows_get(text, "b", "public/a.txt")
    assert access.policy_allows_get(text, "b", "public/deep/er/x")
    assert not access.policy_allows_get(text, "b", "publicity.txt")
    assert not access.policy_allows_get(text, "b", "private/public/a")
    assert not access.policy_allows_get("", "b", "public/a.txt")


def test_exact_and_question_mark_and_whole_bucket() -> None:
    assert access.policy_allows_get(policy("arn:aws:s3:::b/one"), "b", "one")
    assert not access.policy_allows_get(policy("arn:aws:s3:::b/one"), "b", "one2")
    assert access.policy_allows_get(policy("arn:aws:s3:::b/f?.txt"), "b", "f1.txt")
    assert not access.policy_allows_get(policy("arn:aws:s3:::b/f?.txt"), "b", "f12.txt")
    assert access.policy_allows_get(policy("arn:aws:s3:::b/*"), "b", "any\nthing")


def test_regex_characters_in_patterns_are_literal() -> None:
    text = policy("arn:aws:s3:::b/a.b[1]+*")
    assert access.policy_allows_get(text, "b", "a.b[1]+rest")
    assert not access.policy_allows_get(text, "b", "aXb[1]+rest")


def test_principal_forms() -> None:
    for principal in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        assert access.parse_policy(policy("arn:aws:s3:::b/*", Principal=principal), "b")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "[" * 10_000 + "]" * 10_000,
        json.dumps({"Statement": []}),
        policy("arn:aws:s3:::b/*", Effect="Deny"),
        policy("arn:aws:s3:::b/*", Principal={"AWS": "arn:aws:iam::1:root"}),
        policy("arn:aws:s3:::b/*", Action="s3:PutObject"),
        policy("arn:aws:s3:::b/*", Action=["s3:GetObject", "s3:ListBucket"]),
        policy("arn:aws:s3:::other/*"),
        policy("arn:aws:s3:::b"),
        policy("arn:aws:s3:::bucket-longer/*"),
        policy(),
    ],
)
def test_unsupported_or_malformed_policies_are_refused(text: str) -> None:
    with pytest.raises(errors.MalformedPolicy):
        access.parse_policy(text, "b")


def test_whole_bucket_policy() -> None:
    text = access.whole_bucket_policy("b")
    assert access.grants_whole_bucket(text, "b")
    assert access.policy_allows_get(text, "b", "any/key")
    assert not access.grants_whole_bucket(policy("arn:aws:s3:::b/p/*"), "b")
    assert not access.grants_whole_bucket("", "b")


def test_anonymous_read_needs_a_grant() -> None:
    assert access.anonymous_read_allowed("", "public-read", "b", "k")
    assert not access.anonymous_read_allowed("", "", "b", "k")
    assert access.anonymous_read_allowed(policy("arn:aws:s3:::b/k"), "", "b", "k")


def test_canned_acls() -> None:
    assert access.check_canned_acl("") == "private"
    assert access.stored_object_acl("private") == ""
    assert access.stored_object_acl("public-read") == "public-read"
    for unsupported in ("public-read-write", "authenticated-read", "bogus"):
        with pytest.raises(errors.InvalidArgument):
            access.check_canned_acl(unsupported)


def test_owner_ids_never_collide_with_access_key_ids() -> None:
    assert access.owner_id("alice") == "user:alice"
    with pytest.raises(errors.InvalidArgument):
        access.check_user_name("a:b")


RULES = [
    CorsRule(("https://*.example.com",), ("GET",), ("x-amz-*",), ("ETag",), 60),
    CorsRule(("*",), ("GET", "HEAD"), (), (), None),
]


def test_cors_first_matching_rule_wins() -> None:
    assert access.match_cors(RULES, "https://a.example.com", "GET", ["X-Amz-Date"]) == RULES[0]
    assert access.match_cors(RULES, "https://a.example.com", "HEAD", []) == RULES[1]
    assert access.match_cors(RULES, "https://a.example.com", "GET", ["content-type"]) is None
    assert access.match_cors(RULES, "https://other.test", "GET", []) == RULES[1]
    assert access.match_cors(RULES, "https://other.test", "PUT", []) is None


def test_cors_rules_round_trip_and_checks() -> None:
    assert access.cors_from_json(access.cors_to_json(RULES)) == RULES
    with pytest.raises(errors.InvalidRequest):
        access.check_cors_rules([CorsRule(("*",), ("PATCH",))])
    with pytest.raises(errors.InvalidRequest):
        access.check_cors_rules([CorsRule(("https://*.*.com",), ("GET",))])
    with pytest.raises(errors.MalformedXML):
        access.check_cors_rules([])


@given(st.text(max_size=20), st.text(max_size=20))
def test_a_literal_resource_grants_exactly_its_key(granted: str, asked: str) -> None:
    text = policy("arn:aws:s3:::b/" + granted.replace("*", "").replace("?", ""))
    literal = granted.replace("*", "").replace("?", "")
    assert access.policy_allows_get(text, "b", asked) == (asked == literal)
