"""A PUT or DELETE authorizes against the gateway's cached bucket record, and
its commit holds only if that record is unchanged (gateway/write_path.py, recheck;
docs/gateway.md "Bucket cache"). A change made elsewhere — here straight
through a metadata client, as another gateway would — between the gateway's
cached read and the commit makes metadata refuse the commit; the gateway then
reads the bucket fresh and decides again: a change that still allows the
write costs one more commit, one that forbids it refuses the PUT and nothing
is stored.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from metadata.client import MetadataClient
from tests.integration.harness import gateway_metric

pytestmark = pytest.mark.integration

RECHECKS = "tessera_gateway_bucket_rechecks_total"
TIMEOUT_SECONDS = 10.0


def set_bucket_field(cluster: LocalCluster, bucket: str, field: str, value: str) -> None:
    """Changes a bucket record behind the gateway's back."""

    async def run() -> None:
        async with MetadataClient(
            cluster.layout.metadata_addresses(), cluster.credentials.cluster_secret
        ) as client:
            await client.set_bucket_access(bucket, field, value, timeout=TIMEOUT_SECONDS)

    asyncio.run(run())


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"bucket-check-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def test_an_unchanged_bucket_costs_no_recheck(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    before = gateway_metric(cluster, RECHECKS)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=os.urandom(4096 + i))
    assert gateway_metric(cluster, RECHECKS) == before


def changed_then(cluster, s3, field, value_for, act, prepare=None):  # type: ignore[no-untyped-def]
    """Creates a bucket through the gateway (which caches its record; prepare
    may add to it), changes it behind the gateway's back and acts at once,
    until the act is one whose commit found the change (the cache entry may
    expire before it on a slow machine: that act reads fresh and is not
    counted). Returns the bucket's name and act()'s result."""
    for _ in range(5):
        bucket = f"bucket-check-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        if prepare is not None:
            prepare(bucket)
        set_bucket_field(cluster, bucket, field, value_for(bucket))
        before = gateway_metric(cluster, RECHECKS)
        result = act(bucket)
        grown = gateway_metric(cluster, RECHECKS) - before
        assert grown in (0, 1)
        if grown == 1:
            return bucket, result
    raise AssertionError("nothing found the bucket changed at its commit")


def test_a_change_that_still_allows_the_write_is_checked_and_the_put_lands(  # type: ignore[no-untyped-def]
    cluster, s3
) -> None:
    body = os.urandom(300_000)  # in shards: the retried commit reuses them

    def put(bucket: str) -> None:
        s3.put_object(Bucket=bucket, Key="k", Body=body)

    bucket, _ = changed_then(cluster, s3, "cache-control", lambda _: "public, max-age=60", put)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def deny(action: str, bucket: str) -> str:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def deny_puts(bucket: str) -> str:
    return deny("s3:PutObject", bucket)


@pytest.mark.parametrize("size", [100, 300_000], ids=["inline", "shards"])
def test_a_change_that_forbids_the_write_refuses_it_and_stores_nothing(  # type: ignore[no-untyped-def]
    cluster, s3, size
) -> None:
    def put(bucket: str) -> str:
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(size))
        return str(caught.value.response["Error"]["Code"])

    bucket, code = changed_then(cluster, s3, "policy", deny_puts, put)
    assert code == "AccessDenied"
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="k")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("change", ["allows", "forbids"])
def test_a_delete_is_checked_against_a_changed_bucket_too(cluster, s3, change) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(1000)
    field, value_for = "cache-control", (lambda _: "max-age=5")
    if change == "forbids":
        field, value_for = "policy", (lambda bucket: deny("s3:DeleteObject", bucket))

    def prepare(bucket: str) -> None:
        s3.put_object(Bucket=bucket, Key="k", Body=body)

    def delete(bucket: str) -> str:
        try:
            s3.delete_object(Bucket=bucket, Key="k")
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "deleted"

    bucket, outcome = changed_then(cluster, s3, field, value_for, delete, prepare)
    if change == "allows":
        assert outcome == "deleted"
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="k")
    else:
        assert outcome == "AccessDenied"
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
