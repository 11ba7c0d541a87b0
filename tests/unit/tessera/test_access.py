"""Canned ACLs, ownership controls, PublicAccessBlock and CORS rule matching (pure)."""

from __future__ import annotations

import pytest

from tessera import access, errors
from tessera.access import CorsRule


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


def test_acl_allowed_under_ownership_and_public_access_block() -> None:
    access.check_acl_allowed("", "", "public-read")
    access.check_acl_allowed("BucketOwnerEnforced", "", "private")
    with pytest.raises(errors.AccessControlListNotSupported):
        access.check_acl_allowed("BucketOwnerEnforced", "", "public-read")
    blocked = access.PublicAccessBlock(block_public_acls=True).to_json()
    access.check_acl_allowed("", blocked, "")
    with pytest.raises(errors.AccessDenied):
        access.check_acl_allowed("ObjectWriter", blocked, "public-read")


def test_public_access_block_round_trip() -> None:
    block = access.PublicAccessBlock(True, False, True, False)
    assert access.public_access_block(block.to_json()) == block
    assert access.public_access_block("") == access.PublicAccessBlock()
    for bad in ("[1]", "{}", "nope"):
        with pytest.raises(errors.InvalidArgument):
            access.public_access_block(bad)
    with pytest.raises(errors.MalformedXML):
        access.check_ownership("Nobody")
