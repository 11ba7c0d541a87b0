"""Bucket policies, PublicAccessBlock and ownership controls end to end:
two users with boto3 and anonymous urllib requests against the shared
cluster (docs/access.md)."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.test_access import admin, anonymous, client_for, error_code, new_key

pytestmark = pytest.mark.integration


def code_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    return error_code(caught.value)


@pytest.fixture(scope="module")
def two(cluster: LocalCluster) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:6]
    found: dict[str, Any] = {}
    for role in ("alice", "bob"):
        name = f"pol-{role}-{suffix}"
        admin(cluster, "user", "create", name)
        key = new_key(cluster, name)
        found[role] = (name, client_for(cluster, key), key)
    return found


def user_arn(name: str) -> str:
    return f"arn:aws:iam::tessera:user/{name}"


def test_two_users_and_anonymous(cluster: LocalCluster, two: dict[str, Any]) -> None:
    _, alice, _ = two["alice"]
    bob_name, bob, _ = two["bob"]
    bucket = f"pol-{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:s3:::{bucket}"
    alice.create_bucket(Bucket=bucket)
    for key in ("shared/a.txt", "public/p.txt", "keep/k.txt", "tls-only/t.txt", "site/s.txt"):
        alice.put_object(Bucket=bucket, Key=key, Body=key.encode())
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BobSharesAFolder",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn(bob_name)},
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{arn}/shared/*",
            },
            {
                "Sid": "BobListsOnlyIt",
                "Effect": "Allow",
                "Principal": {"AWS": [user_arn(bob_name)]},
                "Action": "s3:ListBucket",
                "Resource": arn,
                "Condition": {"StringEquals": {"s3:prefix": "shared/"}},
            },
            {
                "Sid": "AnyoneFromHere",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/public/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
            },
            {
                "Sid": "DropBox",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/dropbox/*",
            },
            {
                "Sid": "FromOurSite",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/site/*",
                "Condition": {"StringLike": {"aws:Referer": "https://example.com/*"}},
            },
            {
                "Sid": "NobodyDeletesThese",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteObject*",
                "Resource": f"{arn}/keep/*",
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"{arn}/tls-only/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    alice.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    # bob: his folder only
    bob.put_object(Bucket=bucket, Key="shared/from-bob.txt", Body=b"hi alice")
    assert bob.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"shared/a.txt"
    listed = bob.list_objects_v2(Bucket=bucket, Prefix="shared/")
    assert [o["Key"] for o in listed["Contents"]] == ["shared/a.txt", "shared/from-bob.txt"]
    assert code_of(lambda: bob.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    assert (
        code_of(lambda: bob.put_object(Bucket=bucket, Key="other/x", Body=b"x")) == "AccessDenied"
    )
    # "*" names every signed user as well as anonymous requests
    assert bob.get_object(Bucket=bucket, Key="public/p.txt")["Body"].read() == b"public/p.txt"
    assert code_of(lambda: bob.delete_object(Bucket=bucket, Key="shared/a.txt")) == "AccessDenied"
    assert code_of(lambda: bob.get_bucket_policy(Bucket=bucket)) == "AccessDenied"
    refused = bob.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "shared/a.txt"}]})
    assert [e["Code"] for e in refused["Errors"]] == ["AccessDenied"]
    # A key bob may read but that does not exist: NoSuchKey needs s3:ListBucket.
    assert code_of(lambda: bob.get_object(Bucket=bucket, Key="shared/none")) == "AccessDenied"
    assert alice.get_object(Bucket=bucket, Key="shared/from-bob.txt")["Body"].read() == b"hi alice"
    # anonymous: from 127.0.0.1 only public/, the drop box, and the site with its referer
    assert anonymous(cluster, "GET", f"/{bucket}/public/p.txt")[:3:2] == (200, b"public/p.txt")
    assert anonymous(cluster, "GET", f"/{bucket}/shared/a.txt")[0] == 403
    assert anonymous(cluster, "GET", f"/{bucket}/public/missing")[0] == 403
    assert anonymous(cluster, "GET", f"/{bucket}?list-type=2")[0] == 403
    assert anonymous(cluster, "GET", f"/{bucket}/site/s.txt")[0] == 403
    referred = {"Referer": "https://example.com/page.html"}
    assert anonymous(cluster, "GET", f"/{bucket}/site/s.txt", referred)[0] == 200
    dropped = urllib.request.Request(
        f"{cluster.endpoint}/{bucket}/dropbox/anon.txt", data=b"from nobody", method="PUT"
    )
    with urllib.request.urlopen(dropped, timeout=30) as answer:
        assert answer.status == 200
    assert alice.get_object(Bucket=bucket, Key="dropbox/anon.txt")["Body"].read() == b"from nobody"
    assert anonymous(cluster, "GET", f"/{bucket}/dropbox/anon.txt")[0] == 403
    assert anonymous(cluster, "DELETE", f"/{bucket}/public/p.txt")[0] == 403
    assert anonymous(cluster, "GET", "/")[0] == 403  # ListBuckets is never anonymous
    # explicit deny beats ownership, for the owner too
    assert code_of(lambda: alice.delete_object(Bucket=bucket, Key="keep/k.txt")) == "AccessDenied"
    result = alice.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "keep/k.txt"}, {"Key": "public/p.txt"}]}
    )
    assert [e["Key"] for e in result["Errors"]] == ["keep/k.txt"]
    assert [d["Key"] for d in result["Deleted"]] == ["public/p.txt"]
    # plain http: aws:SecureTransport is false, so tls-only/ is refused to everyone
    assert code_of(lambda: alice.get_object(Bucket=bucket, Key="tls-only/t.txt")) == "AccessDenied"
    # the owner keeps its policy: it can always read, change and remove it
    assert json.loads(alice.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    alice.delete_bucket_policy(Bucket=bucket)
    assert (
        code_of(lambda: bob.put_object(Bucket=bucket, Key="shared/y", Body=b"y")) == "AccessDenied"
    )
    alice.delete_object(Bucket=bucket, Key="keep/k.txt")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "invalid json"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                    "Action": "s3:Teleport", "Resource": "arn:aws:s3:::{b}/*"}]}),
         "unknown action"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::{b}/*",
                                    "Condition": {"StringEquals": {"aws:Nonsense": "x"}}}]}),
         "unknown condition key"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::someone-else/*"}]}),
         "another bucket"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::{b}/*",
                                    "Condition": {"IpAddress": {"aws:SourceIp": "nowhere"}}}]}),
         "bad address"),
    ],
)  # fmt: skip
def test_malformed_policy_changes_nothing(two: dict[str, Any], text: str, why: str) -> None:
    _, alice, _ = two["alice"]
    bucket = f"bad-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket)
    good = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    alice.put_bucket_policy(Bucket=bucket, Policy=good)
    bad = text.replace("{b}", bucket)
    assert (
        code_of(lambda: alice.put_bucket_policy(Bucket=bucket, Policy=bad)) == "MalformedPolicy"
    ), why
    assert alice.get_bucket_policy(Bucket=bucket)["Policy"] == good


def test_public_access_block_and_ownership(cluster: LocalCluster, two: dict[str, Any]) -> None:
    _, alice, key = two["alice"]
    bucket = f"pab-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="o.txt", Body=b"o", ACL="public-read")
    alice.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    assert (
        code_of(lambda: alice.get_public_access_block(Bucket=bucket))
        == "NoSuchPublicAccessBlockConfiguration"
    )
    alice.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "BlockPublicAcls": True},
    )
    got = alice.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False,
    }
    assert code_of(lambda: alice.put_bucket_policy(Bucket=bucket, Policy=public)) == "AccessDenied"
    assert code_of(lambda: alice.get_bucket_policy(Bucket=bucket)) == "NoSuchBucketPolicy"
    assert (
        code_of(lambda: alice.put_object(Bucket=bucket, Key="p", Body=b"p", ACL="public-read"))
        == "AccessDenied"
    )
    assert code_of(lambda: alice.put_bucket_acl(Bucket=bucket, ACL="public-read")) == "AccessDenied"
    # The console's public switch writes a public policy: refused as well.
    assert _console_make_public(cluster, key, bucket) == 403
    # IgnorePublicAcls takes away what the existing public-read ACL gave.
    assert anonymous(cluster, "GET", f"/{bucket}/o.txt")[0] == 200
    alice.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    assert anonymous(cluster, "GET", f"/{bucket}/o.txt")[0] == 403
    # Without the block the console can make it public; RestrictPublicBuckets
    # then keeps the public policy from granting anyone.
    alice.delete_public_access_block(Bucket=bucket)
    assert anonymous(cluster, "GET", f"/{bucket}/plain.txt")[0] == 403
    assert _console_make_public(cluster, key, bucket) == 200
    assert anonymous(cluster, "GET", f"/{bucket}/plain.txt")[0] == 200
    alice.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True}
    )
    assert anonymous(cluster, "GET", f"/{bucket}/plain.txt")[0] == 403
    assert anonymous(cluster, "GET", f"/{bucket}/o.txt")[0] == 200  # its ACL still counts
    alice.delete_public_access_block(Bucket=bucket)
    # Ownership controls: BucketOwnerEnforced disables ACLs.
    assert (
        code_of(lambda: alice.get_bucket_ownership_controls(Bucket=bucket))
        == "OwnershipControlsNotFoundError"
    )
    alice.delete_bucket_policy(Bucket=bucket)
    rules = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    alice.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=rules)
    got_rules = alice.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert got_rules == rules
    assert anonymous(cluster, "GET", f"/{bucket}/o.txt")[0] == 403
    assert (
        code_of(lambda: alice.put_object(Bucket=bucket, Key="q", Body=b"q", ACL="public-read"))
        == "AccessControlListNotSupported"
    )
    alice.put_object(Bucket=bucket, Key="q", Body=b"q", ACL="private")
    alice.delete_bucket_ownership_controls(Bucket=bucket)
    assert anonymous(cluster, "GET", f"/{bucket}/o.txt")[0] == 200


def _console_make_public(cluster: LocalCluster, key: tuple[str, str], bucket: str) -> int:
    base = f"http://127.0.0.1:{cluster.layout.admin_port}/console/api"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = urllib.parse.urlencode({"access_key": key[0], "secret_key": key[1]}).encode()
    opener.open(urllib.request.Request(base + "/session", data=form, method="POST"), timeout=30)
    with opener.open(base + "/session", timeout=30) as answer:
        token = json.loads(answer.read())["csrf_token"]
    request = urllib.request.Request(
        f"{base}/buckets/{bucket}/access",
        data=json.dumps({"public": True}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    try:
        with opener.open(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
