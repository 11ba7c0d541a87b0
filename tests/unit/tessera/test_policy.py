"""Bucket policy parsing and evaluation (tessera/policy.py): table tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera import errors, policy
from tessera.policy import Decision, RequestContext

B = "arn:aws:s3:::b"
ALICE = "arn:aws:iam::tessera:user/alice"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**fields: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{B}/*",
    }
    statement.update(fields)
    return statement


def deny(**fields: Any) -> dict[str, Any]:
    return allow(Effect="Deny", **fields)


def decide(
    text: str,
    principal: str,
    action: str,
    key: str | None = "k",
    **values: str,
) -> Decision:
    resource = B if key is None else f"{B}/{key}"
    context = RequestContext(principal, action, resource, {k.lower(): v for k, v in values.items()})
    return policy.evaluate(policy.parse_policy(text, "b"), context)


A, D, N = Decision.ALLOW, Decision.DENY, Decision.NO_DECISION

# (policy, principal, action, key, condition values, expected decision)
TABLE: list[tuple[str, str, str, str | None, dict[str, str], Decision]] = [
    # plain grants, principals
    (doc(allow()), "", "s3:GetObject", "k", {}, A),
    (doc(allow()), "user:bob", "s3:GetObject", "k", {}, A),
    (doc(allow(Principal={"AWS": ALICE})), "user:alice", "s3:GetObject", "k", {}, A),
    (doc(allow(Principal={"AWS": ALICE})), "user:bob", "s3:GetObject", "k", {}, N),
    (doc(allow(Principal={"AWS": ALICE})), "", "s3:GetObject", "k", {}, N),
    (doc(allow(Principal={"AWS": [ALICE, "*"]})), "", "s3:GetObject", "k", {}, A),
    (
        doc(allow(NotPrincipal={"AWS": ALICE}, Principal=None)),
        "user:bob",
        "s3:GetObject",
        "k",
        {},
        A,
    ),
    (
        doc(allow(NotPrincipal={"AWS": ALICE}, Principal=None)),
        "user:alice",
        "s3:GetObject",
        "k",
        {},
        N,
    ),
    # actions, wildcards, case
    (doc(allow()), "", "s3:PutObject", "k", {}, N),
    (doc(allow(Action="s3:Get*")), "", "s3:GetObjectTagging", "k", {}, A),
    (doc(allow(Action="s3:*")), "", "s3:DeleteObject", "k", {}, A),
    (doc(allow(Action="*")), "", "s3:PutObject", "k", {}, A),
    (doc(allow(Action="S3:getobject")), "", "s3:GetObject", "k", {}, A),
    (doc(allow(Action=["s3:PutObject", "s3:GetObject"])), "", "s3:GetObject", "k", {}, A),
    (doc(allow(NotAction="s3:DeleteObject", Action=None)), "", "s3:GetObject", "k", {}, A),
    (doc(allow(NotAction="s3:DeleteObject", Action=None)), "", "s3:DeleteObject", "k", {}, N),
    # resources
    (doc(allow(Resource=f"{B}/public/*")), "", "s3:GetObject", "public/a", {}, A),
    (doc(allow(Resource=f"{B}/public/*")), "", "s3:GetObject", "publicity", {}, N),
    (doc(allow(Resource=f"{B}/f?.txt")), "", "s3:GetObject", "f1.txt", {}, A),
    (doc(allow(Resource=f"{B}/f?.txt")), "", "s3:GetObject", "f12.txt", {}, N),
    (doc(allow(Resource=f"{B}/a.b[1]+*")), "", "s3:GetObject", "aXb[1]+x", {}, N),
    (doc(allow(Resource=B, Action="s3:ListBucket")), "", "s3:ListBucket", None, {}, A),
    (doc(allow(Resource=B, Action="s3:ListBucket")), "", "s3:ListBucket", "k", {}, N),
    (doc(allow(NotResource=f"{B}/secret/*", Resource=None)), "", "s3:GetObject", "a", {}, A),
    (doc(allow(NotResource=f"{B}/secret/*", Resource=None)), "", "s3:GetObject", "secret/a", {}, N),
    # explicit deny wins, whatever the order
    (doc(allow(), deny()), "", "s3:GetObject", "k", {}, D),
    (doc(deny(), allow()), "", "s3:GetObject", "k", {}, D),
    (doc(allow(), deny(Resource=f"{B}/private/*")), "", "s3:GetObject", "public", {}, A),
    (doc(allow(), deny(Resource=f"{B}/private/*")), "", "s3:GetObject", "private/x", {}, D),
    (doc(deny(Principal={"AWS": ALICE})), "user:alice", "s3:GetObject", "k", {}, D),
    (doc(deny(Principal={"AWS": ALICE})), "user:bob", "s3:GetObject", "k", {}, N),
    # conditions: SecureTransport
    (
        doc(deny(Action="s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})),
        "user:alice",
        "s3:PutObject",
        "k",
        {"aws:SecureTransport": "false"},
        D,
    ),
    (
        doc(deny(Action="s3:*", Condition={"Bool": {"aws:SecureTransport": False}})),
        "user:alice",
        "s3:PutObject",
        "k",
        {"aws:SecureTransport": "true"},
        N,
    ),
    # IpAddress / NotIpAddress
    (
        doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "10.1.2.3"},
        A,
    ),
    (
        doc(allow(Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "::1"},
        A,
    ),
    (
        doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "127.0.0.1"},
        N,
    ),
    (
        doc(deny(Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "192.0.2.1"},
        D,
    ),
    (
        doc(deny(Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "127.0.0.1"},
        N,
    ),
    # StringEquals / StringLike / IfExists / Referer / s3:prefix
    (
        doc(allow(Condition={"StringLike": {"aws:Referer": "https://*.example.com/*"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:Referer": "https://www.example.com/page"},
        A,
    ),
    (
        doc(allow(Condition={"StringLike": {"aws:Referer": "https://*.example.com/*"}})),
        "",
        "s3:GetObject",
        "k",
        {"aws:Referer": "https://evil.test/"},
        N,
    ),
    (
        doc(allow(Condition={"StringLike": {"aws:Referer": "https://*.example.com/*"}})),
        "",
        "s3:GetObject",
        "k",
        {},
        N,
    ),
    (
        doc(allow(Condition={"StringLikeIfExists": {"aws:Referer": "https://x/*"}})),
        "",
        "s3:GetObject",
        "k",
        {},
        A,
    ),
    (
        doc(
            allow(
                Resource=B,
                Action="s3:ListBucket",
                Condition={"StringEquals": {"s3:prefix": ["home/", "public/"]}},
            )
        ),
        "user:bob",
        "s3:ListBucket",
        None,
        {"s3:prefix": "public/"},
        A,
    ),
    (
        doc(
            allow(
                Resource=B,
                Action="s3:ListBucket",
                Condition={"StringEquals": {"s3:prefix": ["home/", "public/"]}},
            )
        ),
        "user:bob",
        "s3:ListBucket",
        None,
        {"s3:prefix": "secret/"},
        N,
    ),
    (
        doc(
            allow(
                Resource=B,
                Action="s3:ListBucket",
                Condition={"StringNotEquals": {"s3:prefix": "secret/"}},
            )
        ),
        "user:bob",
        "s3:ListBucket",
        None,
        {},
        A,
    ),
    (
        doc(allow(Condition={"StringEqualsIgnoreCase": {"aws:username": "ALICE"}})),
        "user:alice",
        "s3:GetObject",
        "k",
        {"aws:username": "alice"},
        A,
    ),
    (
        doc(
            allow(
                Resource=B,
                Action="s3:ListBucket",
                Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}},
            )
        ),
        "",
        "s3:ListBucket",
        None,
        {"s3:max-keys": "100"},
        N,
    ),
    (
        doc(allow(Condition={"Null": {"aws:Referer": "true"}})),
        "",
        "s3:GetObject",
        "k",
        {},
        A,
    ),
    # every condition of a statement must hold
    (
        doc(
            allow(
                Condition={
                    "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
                    "Bool": {"aws:SecureTransport": "true"},
                }
            )
        ),
        "",
        "s3:GetObject",
        "k",
        {"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": "false"},
        N,
    ),
]


@pytest.mark.parametrize(("text", "principal", "action", "key", "values", "expected"), TABLE)
def test_evaluation_table(
    text: str,
    principal: str,
    action: str,
    key: str | None,
    values: dict[str, str],
    expected: Decision,
) -> None:
    # Principal=None in a row stands for "no Principal field" (NotPrincipal rows).
    cleaned = json.loads(text)
    for statement in cleaned["Statement"]:
        for name in ("Principal", "Action", "Resource"):
            if statement.get(name, "") is None:
                del statement[name]
    assert decide(json.dumps(cleaned), principal, action, key, **values) is expected


def _without_none(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if v is not None}


MALFORMED = [
    "not json",
    "[]",
    "[" * 10_000 + "]" * 10_000,
    json.dumps({"Statement": []}),
    json.dumps({"Version": "2020-01-01", "Statement": [allow()]}),
    json.dumps({"Version": "2012-10-17", "Statement": [allow()], "Extra": 1}),
    doc(allow(Effect="Maybe")),
    doc(allow(Principal={"AWS": "arn:aws:iam::1:root"})),
    doc(allow(Principal={"CanonicalUser": "abc"})),
    doc(allow(Principal="alice")),
    doc(allow(Action="s3:FlyToTheMoon")),
    doc(allow(Action="ec2:*")),
    doc(allow(Action=[])),
    doc(allow(Resource="arn:aws:s3:::other/*")),
    doc(allow(Resource="arn:aws:s3:::bucket-longer/*")),
    doc(allow(Resource=[])),
    doc(allow(Resource=B)),  # s3:GetObject on the bucket alone applies to nothing
    doc(allow(Action="s3:ListBucket")),  # s3:ListBucket on objects alone
    doc(allow(Condition={"StringEquals": {"aws:Bogus": "x"}})),
    doc(allow(Condition={"StringSortOf": {"aws:Referer": "x"}})),
    doc(allow(Condition={"IpAddress": {"aws:SourceIp": "not-an-ip"}})),
    doc(allow(Condition={"NumericLessThan": {"s3:max-keys": "ten"}})),
    doc(allow(Condition={"Bool": {"aws:SecureTransport": "maybe"}})),
    doc(allow(Condition="x")),
    doc(allow(Sid="same"), allow(Sid="same")),
    doc(allow(Unknown="field")),
    doc(_without_none(allow(Action=None))),
    doc(allow(NotAction="s3:GetObject")),  # both Action and NotAction
    "{" + " " * 30_000 + "}",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_policies_are_refused(text: str) -> None:
    with pytest.raises(errors.MalformedPolicy):
        policy.parse_policy(text, "b")


def test_statement_may_be_a_single_object_and_principal_forms() -> None:
    single = json.dumps({"Statement": allow()})
    assert len(policy.parse_policy(single, "b").statements) == 1
    for principal in ("*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": ALICE}):
        policy.parse_policy(doc(allow(Principal=principal)), "b")


def test_public_policies() -> None:
    def public(*statements: dict[str, Any]) -> bool:
        return policy.is_public(policy.parse_policy(doc(*statements), "b"))

    assert public(allow())
    assert not public(allow(Principal={"AWS": ALICE}))
    assert not public(deny())
    assert not public(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert public(allow(Condition={"Bool": {"aws:SecureTransport": "true"}}))


def test_whole_bucket_policy() -> None:
    text = policy.whole_bucket_policy("b")
    assert policy.grants_whole_bucket(text, "b")
    assert decide(text, "", "s3:GetObject", "any/key") is A
    assert decide(text, "", "s3:PutObject", "any/key") is N
    assert not policy.grants_whole_bucket(doc(allow(Resource=f"{B}/p/*")), "b")
    assert not policy.grants_whole_bucket("", "b")


@given(st.text(max_size=20), st.text(max_size=20))
def test_a_literal_resource_grants_exactly_its_key(granted: str, asked: str) -> None:
    literal = granted.replace("*", "").replace("?", "")
    text = doc(allow(Resource=f"{B}/{literal}"))
    assert (decide(text, "", "s3:GetObject", asked) is A) == (asked == literal)


def _naive_glob(pattern: str, text: str) -> bool:
    """IAM globbing by plain recursion: the reference for the compiled matcher."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(_naive_glob(rest, text[i:]) for i in range(len(text) + 1))
    if not text:
        return False
    return (head == "?" or head == text[0]) and _naive_glob(rest, text[1:])


_GLOB_ALPHABET = st.sampled_from(["a", "b", "/", ".", "[", "]", "\\", "+", "\n", "é"])


@given(
    st.lists(st.one_of(_GLOB_ALPHABET, st.sampled_from(["*", "?"])), max_size=8),
    st.lists(_GLOB_ALPHABET, max_size=10),
)
def test_resource_globs_match_the_naive_reference(pattern: list[str], key: list[str]) -> None:
    glob = "".join(pattern)
    asked = "".join(key)
    text = doc(allow(Resource=f"{B}/{glob}"))
    assert (decide(text, "", "s3:GetObject", asked) is A) == _naive_glob(glob, asked)
