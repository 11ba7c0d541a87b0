"""Usage metering and quotas on the shared real cluster, with boto3 and the
admin CLI (docs/usage-and-quotas.md): exact numbers after a known workload
(overwrites, deletes, a versioned bucket with delete markers, aborted and
completed multipart uploads, requests and bytes), and quotas under concurrent
writers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tessera import limits
from tessera.geometry import Geometry
from tessera.usage import shard_set_physical_bytes
from tests.integration.harness import run_admin as admin


def usage_json(cluster: LocalCluster, *argv: str) -> dict[str, Any]:
    out = admin(cluster, "usage", "--json", *argv).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def flush_gateway(cluster: LocalCluster) -> None:
    """Sends the gateway's request counts to metadata now."""
    url = f"http://127.0.0.1:{cluster.layout.admin_port}/usage/flush"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as r:
        assert r.status == 200


def physical(size: int, cluster: LocalCluster, *, inline: bool = True) -> int:
    """What a body of size occupies: itself when a single-part body small
    enough to be kept inline (the default threshold), else every shard of
    every stripe (multipart parts are never inline: inline=False)."""
    if inline and 0 < size <= limits.INLINE_DEFAULT_BYTES:
        return size
    lay = cluster.layout
    geometry = Geometry(
        lay.data_shards or limits.DATA_SHARDS_DEFAULT,
        lay.parity_shards or limits.PARITY_SHARDS_DEFAULT,
        limits.CHUNK_SIZE_DEFAULT_BYTES,
    )
    return shard_set_physical_bytes(size, geometry)


def bucket_row(report: dict[str, Any], bucket: str) -> dict[str, Any]:
    (row,) = [b for b in report["buckets"] if b["bucket"] == bucket]
    return row


def new_bucket(s3: Any, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def test_usage_after_a_known_workload_is_exact(cluster: LocalCluster, s3: Any) -> None:
    started = time.time()
    requests = {"put_class": 0, "get_class": 0, "delete": 0, "bytes_in": 0, "bytes_out": 0}

    def put(bucket: str, key: str, size: int) -> dict[str, Any]:
        requests["put_class"] += 1
        requests["bytes_in"] += size
        answer: dict[str, Any] = s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
        return answer

    # An unversioned bucket: an overwrite, a delete, an empty object.
    plain = new_bucket(s3, "usage-plain")
    requests["put_class"] += 1
    put(plain, "a", 1000)
    put(plain, "b", 2000)
    put(plain, "a", 500)
    s3.delete_object(Bucket=plain, Key="b")
    requests["delete"] += 1
    put(plain, "c", 0)
    got = s3.get_object(Bucket=plain, Key="a")["Body"].read()
    requests["get_class"] += 1
    requests["bytes_out"] += len(got)
    s3.head_object(Bucket=plain, Key="a")
    requests["get_class"] += 1
    s3.list_objects_v2(Bucket=plain)
    requests["put_class"] += 1
    plain_requests = dict(requests)  # the plain bucket's; the puts below count elsewhere

    # A versioned bucket: versions, a delete marker, a version deleted by id.
    versioned = new_bucket(s3, "usage-versioned")
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    put(versioned, "k", 100)
    put(versioned, "k", 200)
    s3.delete_object(Bucket=versioned, Key="k")  # a delete marker
    gone = put(versioned, "j", 50)
    s3.delete_object(Bucket=versioned, Key="j", VersionId=gone["VersionId"])
    put(versioned, "m", 7)
    s3.delete_object(Bucket=versioned, Key="m")  # marker, then the marker itself by id
    marker = s3.list_object_versions(Bucket=versioned, Prefix="m")["DeleteMarkers"][0]
    s3.delete_object(Bucket=versioned, Key="m", VersionId=marker["VersionId"])

    # Multipart: one aborted, one completed, one left in progress.
    multi = new_bucket(s3, "usage-multipart")
    aborted = s3.create_multipart_upload(Bucket=multi, Key="gone")["UploadId"]
    s3.upload_part(Bucket=multi, Key="gone", UploadId=aborted, PartNumber=1, Body=b"p" * 3000)
    s3.abort_multipart_upload(Bucket=multi, Key="gone", UploadId=aborted)
    done = s3.create_multipart_upload(Bucket=multi, Key="done")["UploadId"]
    etag = s3.upload_part(Bucket=multi, Key="done", UploadId=done, PartNumber=1, Body=b"q" * 900)
    s3.upload_part(Bucket=multi, Key="done", UploadId=done, PartNumber=2, Body=b"r" * 77)
    s3.complete_multipart_upload(
        Bucket=multi,
        Key="done",
        UploadId=done,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
    )  # part 2 left out: it goes with the upload
    open_upload = s3.create_multipart_upload(Bucket=multi, Key="open")["UploadId"]
    s3.upload_part(Bucket=multi, Key="open", UploadId=open_upload, PartNumber=3, Body=b"s" * 4321)

    report = usage_json(cluster, "--bucket", plain)
    row = bucket_row(report, plain)
    assert {k: row[k] for k in ("objects", "versions", "delete_markers", "logical_bytes")} == {
        "objects": 2,
        "versions": 2,
        "delete_markers": 0,
        "logical_bytes": 500,
    }
    assert row["physical_bytes"] == physical(500, cluster)
    assert report["total"]["logical_bytes"] == 500

    row = bucket_row(usage_json(cluster, "--bucket", versioned), versioned)
    assert {k: row[k] for k in ("objects", "versions", "delete_markers", "logical_bytes")} == {
        "objects": 1,  # m's version is current again once its marker is gone
        "versions": 3,
        "delete_markers": 1,
        "logical_bytes": 307,
    }
    assert row["physical_bytes"] == sum(physical(s, cluster) for s in (100, 200, 7))

    row = bucket_row(usage_json(cluster, "--bucket", multi), multi)
    assert {
        k: row[k]
        for k in (
            "objects",
            "versions",
            "logical_bytes",
            "multipart_uploads",
            "multipart_parts",
            "multipart_bytes",
        )
    } == {
        "objects": 1,
        "versions": 1,
        "logical_bytes": 900,
        "multipart_uploads": 1,
        "multipart_parts": 1,
        "multipart_bytes": 4321,
    }
    assert row["physical_bytes"] == physical(900, cluster, inline=False)
    assert row["multipart_physical_bytes"] == physical(4321, cluster, inline=False)

    # Requests: counted by the gateway, flushed, then exact for the plain bucket.
    flush_gateway(cluster)
    span = ["--from", str(started - 1), "--to", str(time.time())]
    report = usage_json(cluster, "--bucket", plain, *span)
    assert report["requests_total"] == plain_requests
    assert bucket_row(report, plain)["requests"] == plain_requests
    assert sum(h["put_class"] for h in report["hours"]) == plain_requests["put_class"]

    # The table names the bucket and the same numbers.
    table = admin(cluster, "usage", "--bucket", plain, *span).stdout
    lines = table.splitlines()
    header = lines[1].split()
    row_cells = next(line for line in lines if line.startswith(plain)).split()
    cells = dict(zip(header, row_cells, strict=True))
    assert cells["logical_B"] == "500"
    assert cells["objects"] == "2"
    assert cells["put_req"] == str(plain_requests["put_class"])
    assert cells["out_B"] == str(plain_requests["bytes_out"])
    assert cells["quota"] == "-"
    assert lines[-1].startswith("TOTAL")

    # A recount from the records finds the same numbers the state machine kept.
    before = bucket_row(usage_json(cluster, "--bucket", versioned), versioned)
    after = bucket_row(usage_json(cluster, "--bucket", versioned, "--recount"), versioned)
    before.pop("requests")
    after.pop("requests")
    assert after == before


def _put_all(s3: Any, bucket: str, keys: list[str], size: int) -> list[str]:
    """PUTs every key from 8 threads at once; the S3 outcome of each ("ok" or the code)."""

    def put(key: str) -> str:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=b"z" * size)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(put, keys))


def test_max_objects_holds_under_concurrent_writers(cluster: LocalCluster, s3: Any) -> None:
    bucket = new_bucket(s3, "quota-objects")
    out = admin(cluster, "quota", "set", "--bucket", bucket, "--max-objects", "5").stdout
    assert "max 5 objects" in out
    keys = [f"k{i:02d}" for i in range(24)]
    outcomes = _put_all(s3, bucket, keys, 1024)
    assert sorted(set(outcomes)) == ["QuotaExceeded", "ok"]
    assert outcomes.count("ok") == 5
    # which five won the race is up to the scheduling; one of them is overwritten below
    stored = next(key for key, outcome in zip(keys, outcomes, strict=True) if outcome == "ok")
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert len(listed) == 5
    row = bucket_row(usage_json(cluster, "--bucket", bucket), bucket)
    assert (row["objects"], row["versions"], row["logical_bytes"]) == (5, 5, 5 * 1024)
    assert row["quota"] == {"max_bytes": None, "max_objects": 5}

    # the error S3 clients see
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="one-more", Body=b"1")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "QuotaExceeded"
    # an overwrite adds no object; a copy to a new key and a completed upload would
    s3.put_object(Bucket=bucket, Key=stored, Body=b"smaller")
    with pytest.raises(ClientError) as copy_refused:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": stored})
    assert copy_refused.value.response["Error"]["Code"] == "QuotaExceeded"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    with pytest.raises(ClientError) as complete_refused:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    assert complete_refused.value.response["Error"]["Code"] == "QuotaExceeded"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="copy")

    # a change takes effect at once: cleared, the next write goes through
    assert "no quota" in admin(cluster, "quota", "clear", "--bucket", bucket).stdout
    assert "no quota" in admin(cluster, "quota", "get", "--bucket", bucket).stdout
    s3.put_object(Bucket=bucket, Key="one-more", Body=b"1")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    row = bucket_row(usage_json(cluster, "--bucket", bucket), bucket)
    assert (row["objects"], row["multipart_uploads"], row["multipart_parts"]) == (7, 0, 0)


def test_max_bytes_holds_under_concurrent_writers(cluster: LocalCluster, s3: Any) -> None:
    bucket = new_bucket(s3, "quota-bytes")
    admin(cluster, "quota", "set", "--bucket", bucket, "--max-bytes", "10000")
    outcomes = _put_all(s3, bucket, [f"k{i:02d}" for i in range(20)], 1000)
    assert outcomes.count("ok") == 10
    assert set(outcomes) == {"ok", "QuotaExceeded"}
    row = bucket_row(usage_json(cluster, "--bucket", bucket), bucket)
    assert row["logical_bytes"] == 10_000
    # a delete frees room at once
    s3.delete_object(
        Bucket=bucket, Key=next(f"k{i:02d}" for i, o in enumerate(outcomes) if o == "ok")
    )
    s3.put_object(Bucket=bucket, Key="fits", Body=b"f" * 1000)


def test_a_user_quota_spans_the_users_buckets(cluster: LocalCluster) -> None:
    import boto3
    from botocore.config import Config

    user = f"quota-user-{uuid.uuid4().hex[:8]}"
    admin(cluster, "user", "create", user)
    out = admin(cluster, "key", "create", user).stdout
    fields = dict(line.split(": ", 1) for line in out.strip().splitlines())
    client = boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=fields["access_key_id"],
        aws_secret_access_key=fields["secret_access_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    first, second = new_bucket(client, "uq-a"), new_bucket(client, "uq-b")
    admin(cluster, "quota", "set", "--user", user, "--max-bytes", "3KiB")
    client.put_object(Bucket=first, Key="a", Body=b"1" * 2048)
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=second, Key="b", Body=b"2" * 1025)
    assert refused.value.response["Error"]["Code"] == "QuotaExceeded"
    client.put_object(Bucket=second, Key="b", Body=b"2" * 1024)
    report = usage_json(cluster, "--user", user)
    assert report["owner"]["logical_bytes"] == 3072
    assert report["owner"]["quota"] == {"max_bytes": 3072, "max_objects": None}
    assert sorted(b["bucket"] for b in report["buckets"]) == sorted([first, second])
    assert "TOTAL" in admin(cluster, "usage", "--user", user).stdout


def test_bad_admin_input_is_refused(cluster: LocalCluster) -> None:
    missing = admin(cluster, "usage", "--bucket", "no-such-bucket-here", check=False)
    assert missing.returncode == 1 and "NoSuchBucket" in missing.stderr
    bad = admin(
        cluster,
        "quota",
        "set",
        "--bucket",
        "no-such-bucket-here",
        "--max-objects",
        "1",
        check=False,
    )
    assert bad.returncode == 1 and "NoSuchBucket" in bad.stderr
    nothing = admin(cluster, "quota", "set", "--user", "x", check=False)
    assert nothing.returncode == 1 and "InvalidArgument" in nothing.stderr
    backwards = admin(cluster, "usage", "--from", "2026-01-02", "--to", "2026-01-01", check=False)
    assert backwards.returncode == 1 and "InvalidArgument" in backwards.stderr


def _shard_sets_on_nodes(cluster: LocalCluster) -> set[str]:
    found = set()
    for name, _ in cluster.layout.node_names():
        for path in (cluster.node_data_dir(name) / "shards").glob("*/*"):
            found.add(path.name.rsplit(".", 1)[0])
    return found


def test_a_refused_write_leaves_no_shards(cluster: LocalCluster, s3: Any) -> None:
    """The gateway reclaims the shards of a write metadata refused (GC would
    only after its grace period, an hour by default)."""
    bucket = new_bucket(s3, "quota-reclaim")
    admin(cluster, "quota", "set", "--bucket", bucket, "--max-bytes", "1MiB")
    before = _shard_sets_on_nodes(cluster)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="big", Body=b"b" * (2 << 20))
    assert refused.value.response["Error"]["Code"] == "QuotaExceeded"
    deadline = time.monotonic() + 60
    while _shard_sets_on_nodes(cluster) - before:
        assert time.monotonic() < deadline, "the refused write's shards are still on the nodes"
        time.sleep(0.2)
    row = bucket_row(usage_json(cluster, "--bucket", bucket), bucket)
    assert (row["versions"], row["logical_bytes"], row["physical_bytes"]) == (0, 0, 0)
