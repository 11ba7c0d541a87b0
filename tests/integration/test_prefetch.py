"""A GET of a key this gateway wrote or read starts reading the version it
remembers while metadata is asked (gateway/prefetch.py) — and serves those
bytes only when metadata answers with that very version. The cluster here
keeps no records under record leases (with one held, a GET asks nobody and
prefetches nothing: tests/integration/test_record_leases.py).

The stale cases make the gateway's hint wrong on purpose: CopyObject replaces
a key's current version without passing through the hints (only PUT and GET
fill them), so the gateway still remembers the replaced version when the next
GET comes; a DELETE likewise leaves the hint of a key that no longer exists.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.harness import gateway_metric, s3_client, start_cluster

pytestmark = pytest.mark.integration

BODY_BYTES = 1024 * 1024 + 17  # in shards (above the inline limit), two stripes with 4+2


def prefetches(cluster: LocalCluster, outcome: str) -> float:
    return gateway_metric(cluster, f'tessera_gateway_prefetches_total{{outcome="{outcome}"}}')


def counts(cluster: LocalCluster) -> dict[str, float]:
    return {o: prefetches(cluster, o) for o in ("used", "stale", "failed")}


def grew(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {o: after[o] - before[o] for o in before}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_cluster(tmp_path_factory.mktemp("prefetch"), {"TESSERA_RECORD_LEASE_BYTES": "0"})
    yield c
    c.stop()


@pytest.fixture(scope="module")
def s3(cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return s3_client(cluster)


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"prefetch-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def test_a_written_object_is_read_through_the_prefetch(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(BODY_BYTES)
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    before = counts(cluster)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    assert grew(before, counts(cluster)) == {"used": 2, "stale": 0, "failed": 0}


def test_a_replaced_version_is_never_served(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    first, second = os.urandom(BODY_BYTES), os.urandom(BODY_BYTES)
    s3.put_object(Bucket=bucket, Key="k", Body=first)  # the gateway remembers this one
    s3.put_object(Bucket=bucket, Key="other", Body=second)
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "other"})
    before = counts(cluster)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == second
    assert grew(before, counts(cluster)) == {"used": 0, "stale": 1, "failed": 0}
    # that GET taught the gateway the new version: the next one uses it
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == second
    assert grew(before, counts(cluster)) == {"used": 1, "stale": 1, "failed": 0}


def test_a_deleted_key_is_not_found_and_nothing_stays_reserved(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(BODY_BYTES))
    s3.delete_object(Bucket=bucket, Key="k")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="k")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    # the cancelled prefetch gave its admission reservation back
    assert gateway_metric(cluster, "tessera_gateway_inflight_bytes") == 0


def test_ranges_versions_and_conditions_do_not_prefetch(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old, new = os.urandom(BODY_BYTES), os.urandom(BODY_BYTES)
    old_id = s3.put_object(Bucket=bucket, Key="k", Body=old)["VersionId"]
    put = s3.put_object(Bucket=bucket, Key="k", Body=new)
    before = counts(cluster)
    ranged = s3.get_object(Bucket=bucket, Key="k", Range="bytes=1000-300000")
    assert ranged["Body"].read() == new[1000:300001]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=old_id)["Body"].read() == old
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=put["ETag"])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert grew(before, counts(cluster)) == {"used": 0, "stale": 0, "failed": 0}


def test_a_refused_requester_makes_no_node_read(cluster, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(BODY_BYTES))  # private; hinted
    anonymous = boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )
    before = counts(cluster), gateway_metric(cluster, "tessera_gateway_shard_chunks_read_total")
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=bucket, Key="k")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    after = counts(cluster), gateway_metric(cluster, "tessera_gateway_shard_chunks_read_total")
    assert grew(before[0], after[0]) == {"used": 0, "stale": 0, "failed": 0}
    assert after[1] == before[1]  # not one chunk read for a request that was refused
