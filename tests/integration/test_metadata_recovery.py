"""Metadata lost and rebuilt from the nodes (docs/metadata-recovery.md).

A workload (three buckets; content types, user metadata, stored headers and
tags; an overwritten key; a versioned bucket with overwrites; an SSE-S3
object; REDUCED_REDUNDANCY objects, single-part and multipart, with their own
k+m; a multipart object, a multipart SSE-S3 one, and an upload left in
progress) is written and recorded through boto3. Then every metadata replica
and etcd member is stopped and its data folder deleted, they start empty,
`tessera admin rebuild-metadata` runs, and listings, HEADs (storage class
included), tags and the bytes of every version are compared with what was
recorded. A second run changes nothing. Objects go to shards whatever their
size (inline objects live only in metadata and cannot be rebuilt)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from cli.local_cluster import LocalCluster
from metadata.client import MetadataClient
from tests.integration.harness import admin_output as admin
from tests.integration.harness import s3_client, start_cluster

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * KiB
GC_GRACE_SECONDS = 6.0
ENV = {
    "TESSERA_INLINE_MAX_BYTES": "0",  # every object in shards, whatever its size
    # GC runs every second with a short grace: it has every chance to take
    # the shards of a bucket that empty metadata does not know.
    "TESSERA_GC_GRACE_SECONDS": str(GC_GRACE_SECONDS),
    "TESSERA_GC_INTERVAL_SECONDS": "1",
}
HEAD_FIELDS = (
    "ContentType",
    "ContentLength",
    "ETag",
    "Metadata",
    "CacheControl",
    "ContentDisposition",
    "ServerSideEncryption",
    "LastModified",
    "VersionId",
    "StorageClass",
)


def snapshot(s3: Any, buckets: list[str]) -> dict[str, Any]:
    """Everything a client sees of the buckets: listings, versions, HEADs,
    tags and bytes of every version."""
    seen: dict[str, Any] = {"buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"])}
    for bucket in buckets:
        listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        seen[f"{bucket} list"] = [
            (o["Key"], o["ETag"], o["Size"], o["LastModified"], o["StorageClass"]) for o in listing
        ]
        versions = s3.list_object_versions(Bucket=bucket).get("Versions", [])
        seen[f"{bucket} versions"] = [
            (v["Key"], v["VersionId"], v["IsLatest"], v["ETag"], v["Size"]) for v in versions
        ]
        seen[f"{bucket} versioning"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        for v in versions:
            key, version_id = v["Key"], v["VersionId"]
            by_id = {} if version_id == "null" else {"VersionId": version_id}
            head = s3.head_object(Bucket=bucket, Key=key, **by_id)
            seen[f"{bucket}/{key} {version_id} head"] = {f: head.get(f) for f in HEAD_FIELDS}
            tags = s3.get_object_tagging(Bucket=bucket, Key=key, **by_id)["TagSet"]
            seen[f"{bucket}/{key} {version_id} tags"] = sorted((t["Key"], t["Value"]) for t in tags)
            body = s3.get_object(Bucket=bucket, Key=key, **by_id)["Body"].read()
            seen[f"{bucket}/{key} {version_id} bytes"] = body
    return seen


def multipart(s3: Any, bucket: str, key: str, sizes: list[int], **create: Any) -> str:
    """Uploads parts of these sizes and completes the upload; returns its id."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    parts = []
    for number, size in enumerate(sizes, start=1):
        reply = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=os.urandom(size)
        )
        parts.append({"PartNumber": number, "ETag": reply["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return str(upload_id)


def stop_and_wipe_metadata(cluster: LocalCluster) -> None:
    """Stops the gateway, every metadata replica and etcd member, and
    deletes their data (the nodes keep running)."""
    cluster.stop_process("gateway")
    for name in [*cluster.layout.metadata_names(), *cluster.layout.etcd_names()]:
        cluster.stop_process(name)
    for name in cluster.layout.metadata_names():
        shutil.rmtree(cluster.metadata_data_dir(name))
    for name in cluster.layout.etcd_names():
        shutil.rmtree(cluster.etcd_data_dir(name))


def start_metadata(cluster: LocalCluster) -> None:
    cluster.start([*cluster.layout.etcd_names(), *cluster.layout.metadata_names()])
    cluster.wait_ready(90, [*cluster.layout.etcd_names(), *cluster.layout.metadata_names()])


async def registered_nodes(cluster: LocalCluster) -> int:
    async with MetadataClient(
        cluster.layout.metadata_addresses(), cluster.credentials.cluster_secret
    ) as client:
        view = await client.get_cluster_map(timeout=10)
        return sum(1 for n in view.nodes if n.state == "up")


def shard_files(cluster: LocalCluster) -> set[Path]:
    return {
        p
        for node_id, _ in cluster.layout.node_names()
        for p in (cluster.node_data_dir(node_id) / "shards").glob("*/*")
    }


def gc_passes(cluster: LocalCluster) -> float:
    """Completed GC passes, summed over the metadata replicas (the repair
    leader runs them)."""
    total = 0.0
    for name in cluster.layout.metadata_names():
        url = f"http://{cluster.layout.host}:{cluster.http_port_of(name)}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            for line in reply.read().decode().splitlines():
                if line.startswith('tessera_gc_passes_total{outcome="ok"}'):
                    total += float(line.split()[-1])
    return total


def wait_for_gc_passes(cluster: LocalCluster, count: int) -> None:
    """Waits until GC has made count more complete passes over every node."""
    target = gc_passes(cluster) + count
    deadline = time.monotonic() + 120
    while gc_passes(cluster) < target:
        if time.monotonic() > deadline:
            raise AssertionError("GC made no progress")
        time.sleep(0.5)


def wait_for_nodes(cluster: LocalCluster, count: int) -> None:
    deadline = time.monotonic() + 60
    while asyncio.run(registered_nodes(cluster)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} nodes registered again")
        time.sleep(0.5)


def test_metadata_is_rebuilt_from_the_nodes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = start_cluster(tmp_path / "cluster", ENV)
    try:
        s3 = s3_client(cluster)
        suffix = uuid.uuid4().hex[:8]
        plain, versioned, secret = f"plain-{suffix}", f"versioned-{suffix}", f"secret-{suffix}"
        for bucket in (plain, versioned, secret):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(
            Bucket=plain,
            Key="notes/a.txt",
            Body=b"first draft",
            ContentType="text/plain",
            Metadata={"author": "ada"},
        )
        s3.put_object(  # overwrites: only this one is current
            Bucket=plain,
            Key="notes/a.txt",
            Body=b"second draft, longer",
            ContentType="text/plain; charset=utf-8",
            Metadata={"author": "ada", "rev": "2"},
            Tagging="stage=final",
        )
        s3.put_object(
            Bucket=plain,
            Key="data/blob.bin",
            Body=os.urandom(300 * KiB + 7),
            ContentType="application/octet-stream",
            CacheControl="max-age=60",
            ContentDisposition='attachment; filename="blob.bin"',
        )
        s3.put_object(Bucket=plain, Key="empty-ish", Body=b"x")
        s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
        for i in range(3):
            s3.put_object(
                Bucket=versioned,
                Key="report.csv",
                Body=f"rev {i}\n".encode() * (i + 1) * 1000,
                ContentType="text/csv",
                Metadata={"rev": str(i)},
            )
        s3.put_object(Bucket=versioned, Key="other", Body=os.urandom(5 * KiB))
        cheap_id = s3.put_object(  # the cheaper class: its own geometry, its class in the record
            Bucket=versioned,
            Key="cheap.bin",
            Body=os.urandom(40 * KiB),
            StorageClass="REDUCED_REDUNDANCY",
        )["VersionId"]
        s3.put_object(
            Bucket=secret,
            Key="vault/key.pem",
            Body=os.urandom(70 * KiB),
            ServerSideEncryption="AES256",
            ContentType="application/x-pem-file",
        )
        s3.put_object(Bucket=secret, Key="readme", Body=b"not encrypted")
        multipart(
            s3,
            plain,
            "big/video.mp4",
            [5 * MiB, 100 * KiB + 3],
            ContentType="video/mp4",
            Metadata={"camera": "x100"},
        )
        multipart(s3, secret, "big/sealed.bin", [5 * MiB, 10 * KiB], ServerSideEncryption="AES256")
        multipart(s3, plain, "big/cheap.bin", [5 * MiB, 1], StorageClass="REDUCED_REDUNDANCY")
        # An upload still in progress: its part is not an object's segment.
        s3.create_multipart_upload(Bucket=plain, Key="unfinished")
        unfinished = s3.list_multipart_uploads(Bucket=plain)["Uploads"][0]["UploadId"]
        s3.upload_part(
            Bucket=plain, Key="unfinished", UploadId=unfinished, PartNumber=1, Body=b"p" * 5000
        )
        buckets = [plain, versioned, secret]
        before = snapshot(s3, buckets)
        written_at = time.monotonic()
        assert before[f"{plain}/big/video.mp4 null head"]["ETag"].endswith('-2"')
        assert len(before[f"{versioned} versions"]) == 5
        assert before[f"{versioned}/cheap.bin {cheap_id} head"]["StorageClass"] == (
            "REDUCED_REDUNDANCY"
        )
        assert before[f"{plain}/big/cheap.bin null head"]["StorageClass"] == "REDUCED_REDUNDANCY"
        assert before[f"{secret}/vault/key.pem null head"]["ServerSideEncryption"] == "AES256"

        stop_and_wipe_metadata(cluster)
        shards_before = shard_files(cluster)  # nothing but GC deletes shards from here on
        start_metadata(cluster)
        wait_for_nodes(cluster, len(cluster.layout.node_names()))
        # Every shard is now older than the grace period, and GC has passed
        # over all nodes twice with no bucket known: it must have kept them.
        time.sleep(max(0.0, written_at + GC_GRACE_SECONDS - time.monotonic()))
        wait_for_gc_passes(cluster, 2)
        assert shard_files(cluster) == shards_before
        cluster.start_process("gateway")
        cluster.wait_ready(60, ["gateway"])
        s3 = s3_client(cluster)
        assert s3.list_buckets()["Buckets"] == []  # the metadata is gone

        dry = admin(cluster, "rebuild-metadata", "--dry-run")
        assert "dry run, nothing changed" in dry and f"bucket {versioned} " in dry
        assert s3.list_buckets()["Buckets"] == []

        report = admin(cluster, "rebuild-metadata")
        print(report)
        assert "buckets:        3 created, 0 existing" in report
        # 4 current in plain (not the overwritten draft), 4 in versioned, 3 in secret
        assert "versions:       13 rebuilt, 0 already present" in report
        assert (
            f"{plain}/unfinished" in report
            and "part of an upload not completed (or whose completion manifest is lost): 1"
            in report
        )
        after = snapshot(s3, buckets)
        assert after == before

        # Once the rebuilt buckets are older than the grace period, GC works
        # as usual again: it keeps every shard the rebuilt records reference,
        # completion manifests included.
        time.sleep(GC_GRACE_SECONDS)
        wait_for_gc_passes(cluster, 2)

        again = admin(cluster, "rebuild-metadata")
        print(again)
        assert "buckets:        0 created, 3 existing" in again
        assert "versions:       0 rebuilt, 13 already present" in again
        assert snapshot(s3, buckets) == before
    finally:
        cluster.stop()
