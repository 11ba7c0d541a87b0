"""Users, access keys, ownership, ACLs, bucket policies and bucket CORS, on
the shared real cluster with boto3, anonymous urllib requests and the admin
CLI as a subprocess (docs/access.md)."""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from gateway.principals import KEY_CACHE_SECONDS
from tests.integration.harness import run_admin as admin

REVOCATION_WAIT_SECONDS = KEY_CACHE_SECONDS + 8  # the cache, plus slack for a loaded machine


def new_key(cluster: LocalCluster, user: str) -> tuple[str, str]:
    out = admin(cluster, "key", "create", user).stdout
    fields = dict(line.split(": ", 1) for line in out.strip().splitlines())
    return fields["access_key_id"], fields["secret_access_key"]


def client_for(cluster: LocalCluster, key: tuple[str, str]):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def anonymous(
    cluster: LocalCluster, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(cluster.endpoint + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


@pytest.fixture(scope="module")
def users(cluster: LocalCluster) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    names = {"alice": f"alice-{suffix}", "bob": f"bob-{suffix}"}
    for name in names.values():
        admin(cluster, "user", "create", name)
    return names


def test_users_own_buckets_and_others_are_denied(
    cluster: LocalCluster, users: dict[str, str]
) -> None:
    alice = client_for(cluster, new_key(cluster, users["alice"]))
    alice_again = client_for(cluster, new_key(cluster, users["alice"]))
    bob = client_for(cluster, new_key(cluster, users["bob"]))
    bucket = f"acc-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="secret.txt", Body=b"alice only")
    # Another key of the same user shares ownership.
    assert alice_again.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"alice only"
    assert bucket in [b["Name"] for b in alice_again.list_buckets()["Buckets"]]
    assert bucket not in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    for call in (
        lambda: bob.get_object(Bucket=bucket, Key="secret.txt"),
        lambda: bob.get_object(Bucket=bucket, Key="no-such-key"),
        lambda: bob.list_objects_v2(Bucket=bucket),
        lambda: bob.put_object(Bucket=bucket, Key="x", Body=b"x"),
        lambda: bob.delete_object(Bucket=bucket, Key="secret.txt"),
        lambda: bob.get_bucket_acl(Bucket=bucket),
        lambda: bob.put_bucket_policy(Bucket=bucket, Policy="{}"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught.value) == "AccessDenied"
    status, _, _ = anonymous(cluster, "GET", f"/{bucket}/secret.txt")
    assert status == 403
    listing = admin(cluster, "buckets").stdout
    assert f"{bucket}\tuser:{users['alice']}\tprivate" in listing
    refused = admin(cluster, "user", "delete", users["alice"], check=False)
    assert refused.returncode != 0 and "DeleteConflict" in refused.stderr


def test_public_read_object_and_acls(cluster: LocalCluster, users: dict[str, str]) -> None:
    alice = client_for(cluster, new_key(cluster, users["alice"]))
    bucket = f"pub-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket, ACL="public-read")
    assert any(
        g["Grantee"].get("URI", "").endswith("AllUsers")
        for g in alice.get_bucket_acl(Bucket=bucket)["Grants"]
    )
    alice.put_object(Bucket=bucket, Key="open.txt", Body=b"for everyone", ACL="public-read")
    alice.put_object(Bucket=bucket, Key="closed.txt", Body=b"not for you")
    status, _, body = anonymous(cluster, "GET", f"/{bucket}/open.txt")
    assert (status, body) == (200, b"for everyone")
    assert anonymous(cluster, "HEAD", f"/{bucket}/open.txt")[0] == 200
    overridden = f"/{bucket}/open.txt?response-content-type=text/html"
    assert anonymous(cluster, "GET", overridden)[0] == 400  # overrides need a signature
    assert anonymous(cluster, "GET", f"/{bucket}/closed.txt")[0] == 403
    # A bucket's public-read ACL lets anyone list it, as in S3.
    status, _, listing = anonymous(cluster, "GET", f"/{bucket}?list-type=2")
    assert status == 200 and b"<Key>open.txt</Key>" in listing
    assert anonymous(cluster, "PUT", f"/{bucket}/new.txt")[0] == 403
    grants = alice.get_object_acl(Bucket=bucket, Key="open.txt")["Grants"]
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL", "READ"}
    alice.put_object_acl(Bucket=bucket, Key="open.txt", ACL="private")
    assert anonymous(cluster, "GET", f"/{bucket}/open.txt")[0] == 403
    alice.put_object_acl(Bucket=bucket, Key="closed.txt", ACL="public-read")
    assert anonymous(cluster, "GET", f"/{bucket}/closed.txt")[:1] == (200,)
    upload = alice.create_multipart_upload(Bucket=bucket, Key="multi.bin", ACL="public-read")
    part = alice.upload_part(
        Bucket=bucket, Key="multi.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"m" * 10
    )
    alice.complete_multipart_upload(
        Bucket=bucket,
        Key="multi.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert anonymous(cluster, "GET", f"/{bucket}/multi.bin")[:3:2] == (200, b"m" * 10)
    copied = alice.copy_object(
        Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "closed.txt"}
    )
    assert copied["CopyObjectResult"]["ETag"]
    assert anonymous(cluster, "GET", f"/{bucket}/copy.txt")[0] == 403  # a copy starts private


def test_bucket_policy_grants_a_prefix(cluster: LocalCluster, users: dict[str, str]) -> None:
    alice = client_for(cluster, new_key(cluster, users["alice"]))
    bucket = f"pol-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="public/a.txt", Body=b"a")
    alice.put_object(Bucket=bucket, Key="private/b.txt", Body=b"b")
    with pytest.raises(ClientError) as caught:
        alice.get_bucket_policy(Bucket=bucket)
    assert error_code(caught.value) == "NoSuchBucketPolicy"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*",
            }
        ],
    }
    alice.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(alice.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert anonymous(cluster, "GET", f"/{bucket}/public/a.txt")[:3:2] == (200, b"a")
    assert anonymous(cluster, "GET", f"/{bucket}/private/b.txt")[0] == 403
    assert anonymous(cluster, "GET", f"/{bucket}/public/missing")[0] == 403
    bad = dict(policy, Statement=[dict(policy["Statement"][0], Action="s3:FlyAway")])  # type: ignore[arg-type]
    with pytest.raises(ClientError) as caught:
        alice.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bad))
    assert error_code(caught.value) == "MalformedPolicy"
    alice.delete_bucket_policy(Bucket=bucket)
    assert anonymous(cluster, "GET", f"/{bucket}/public/a.txt")[0] == 403


def test_bucket_cors(cluster: LocalCluster, users: dict[str, str]) -> None:
    alice = client_for(cluster, new_key(cluster, users["alice"]))
    bucket = f"cors-{uuid.uuid4().hex[:8]}"
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="page.js", Body=b"js", ACL="public-read")
    origin = "https://app.example.com"
    rules = {
        "CORSRules": [
            {
                "AllowedOrigins": [origin],
                "AllowedMethods": ["GET", "HEAD"],
                "AllowedHeaders": ["x-custom-*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 300,
            }
        ]
    }
    alice.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules)
    assert alice.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules["CORSRules"]
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-custom-one",
    }
    status, headers, _ = anonymous(cluster, "OPTIONS", f"/{bucket}/page.js", preflight)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Max-Age"] == "300"
    assert "GET" in headers["Access-Control-Allow-Methods"]
    for changed in ({"Origin": "https://evil.example"}, {"Access-Control-Request-Method": "PUT"}):
        assert (
            anonymous(cluster, "OPTIONS", f"/{bucket}/page.js", {**preflight, **changed})[0] == 403
        )
    status, headers, _ = anonymous(cluster, "GET", f"/{bucket}/page.js", {"Origin": origin})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    _, headers, _ = anonymous(cluster, "GET", f"/{bucket}/page.js", {"Origin": "https://x.test"})
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, _ = anonymous(cluster, "PUT", f"/{bucket}/page.js", {"Origin": origin})
    assert status == 403  # no rule allows PUT: no CORS headers
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, _ = anonymous(cluster, "GET", f"/{bucket}/missing.js", {"Origin": origin})
    assert status == 403 and headers["Access-Control-Allow-Origin"] == origin
    alice.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        alice.get_bucket_cors(Bucket=bucket)
    assert error_code(caught.value) == "NoSuchCORSConfiguration"
    assert anonymous(cluster, "OPTIONS", f"/{bucket}/page.js", preflight)[0] == 403


def test_revoked_key_stops_working(cluster: LocalCluster, users: dict[str, str]) -> None:
    key = new_key(cluster, users["bob"])
    bob = client_for(cluster, key)
    bob.list_buckets()
    listed = admin(cluster, "key", "list", "--user", users["bob"]).stdout
    assert key[0] in listed
    assert key[1] not in listed  # secrets are shown once, at creation
    admin(cluster, "key", "revoke", key[0])
    deadline = time.monotonic() + REVOCATION_WAIT_SECONDS
    while True:
        try:
            bob.list_buckets()
        except ClientError as exc:
            assert error_code(exc) == "InvalidAccessKeyId"
            break
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.2)
    assert key[0] not in admin(cluster, "key", "list").stdout


def test_admin_status_and_users(cluster: LocalCluster, users: dict[str, str]) -> None:
    status = admin(cluster, "status").stdout
    assert "nodes:" in status and "metadata replicas:" in status and "repair:" in status
    assert "zone " in status
    listed = admin(cluster, "user", "list").stdout
    assert users["alice"] in listed and users["bob"] in listed
    temp = f"temp-{uuid.uuid4().hex[:6]}"
    admin(cluster, "user", "create", temp)
    again = admin(cluster, "user", "create", temp, check=False)
    assert again.returncode != 0 and "EntityAlreadyExists" in again.stderr
    key = new_key(cluster, temp)
    admin(cluster, "user", "delete", temp)
    assert temp not in admin(cluster, "user", "list").stdout
    assert key[0] not in admin(cluster, "key", "list").stdout


def test_console_signs_in_with_a_users_key(cluster: LocalCluster, users: dict[str, str]) -> None:
    key = new_key(cluster, users["bob"])
    bob = client_for(cluster, key)
    bucket = f"con-{uuid.uuid4().hex[:8]}"
    bob.create_bucket(Bucket=bucket)
    base = f"http://127.0.0.1:{cluster.layout.admin_port}/console/api"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def call(method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        try:
            with opener.open(
                urllib.request.Request(base + path, data=data, method=method), timeout=30
            ) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    form = urllib.parse.urlencode({"access_key": key[0], "secret_key": key[1]}).encode()
    call("POST", "/session", form)
    status, body = call("GET", "/buckets")
    assert status == 200
    assert bucket in [b["name"] for b in json.loads(body)["buckets"]]
    admin(cluster, "key", "revoke", key[0])
    deadline = time.monotonic() + REVOCATION_WAIT_SECONDS
    while call("GET", "/session")[0] != 401:
        assert time.monotonic() < deadline, "the revoked key's session lives on"
        time.sleep(0.2)
