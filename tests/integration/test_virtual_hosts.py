"""Virtual-hosted-style addressing: bucket.<domain> in the Host header.

The test domain does not resolve, so each signed request is sent to
127.0.0.1 with its Host header kept as signed, as a DNS wildcard would."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config

from tests.integration.harness import VHOST_DOMAIN

pytestmark = pytest.mark.integration


def vhost_client(cluster):  # type: ignore[no-untyped-def]
    port = cluster.layout.s3_port
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{VHOST_DOMAIN}:{port}",
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}),
    )

    def to_loopback(request, **_):  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))

    client.meta.events.register("before-send.s3.*", to_loopback)
    return client


def test_virtual_hosted_round_trip(cluster, s3) -> None:  # type: ignore[no-untyped-def]
    vs3 = vhost_client(cluster)
    bucket = f"vh-{uuid.uuid4().hex[:8]}"
    vs3.create_bucket(Bucket=bucket)
    vs3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"virtual")
    assert vs3.get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read() == b"virtual"
    listed = vs3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]
    # the same object, path style
    assert s3.get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read() == b"virtual"
    vs3.delete_object(Bucket=bucket, Key="dir/a b.txt")
    vs3.delete_bucket(Bucket=bucket)
