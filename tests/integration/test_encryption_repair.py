"""Repair of encrypted objects: shards of sealed streams (SSE-S3, SSE-KMS,
an SSE-C multipart upload) lost with a node are rebuilt elsewhere, and the
objects still open and read back byte for byte. Its own cluster (3 zones x 3
nodes, 4+2, short grace periods), as tests/integration/test_repair.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tessera.model import ObjectVersion
from tests.integration.harness import s3_client
from tests.integration.test_repair import _read_shard, meta, start, wait_for

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _sse_c(key: bytes) -> dict[str, str]:
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def _versions(cluster, bucket: str, keys: list[str]) -> list[ObjectVersion]:  # type: ignore[no-untyped-def]
    async def fetch() -> list[ObjectVersion]:
        async with meta(cluster) as client:
            return [await client.get_object(bucket, k, timeout=10) for k in keys]

    return asyncio.run(fetch())


def test_encrypted_shards_are_rebuilt_after_a_node_is_lost(tmp_path: Path) -> None:
    cluster = start(tmp_path / "cluster")
    try:
        s3 = s3_client(cluster)
        bucket = f"heal-sse-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        customer = os.urandom(32)
        bodies = {"s3": os.urandom(3 * MiB + 77), "kms": os.urandom(MiB + 5)}
        s3.put_object(Bucket=bucket, Key="s3", Body=bodies["s3"], ServerSideEncryption="AES256")
        s3.put_object(Bucket=bucket, Key="kms", Body=bodies["kms"], ServerSideEncryption="aws:kms")
        parts = [os.urandom(5 * MiB), os.urandom(MiB + 3)]
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu", **_sse_c(customer))
        etags = [
            s3.upload_part(
                Bucket=bucket,
                Key="mpu",
                UploadId=upload["UploadId"],
                PartNumber=i + 1,
                Body=data,
                **_sse_c(customer),
            )["ETag"]
            for i, data in enumerate(parts)
        ]
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mpu",
            UploadId=upload["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
            },
        )
        bodies["mpu"] = b"".join(parts)
        keys = sorted(bodies)
        versions = _versions(cluster, bucket, keys)
        assert all(v.is_encrypted for v in versions)
        victim = Counter(
            loc.node_id for v in versions for s in v.shard_sets() for loc in s.placement
        ).most_common(1)[0][0]
        lost = {  # (shard set id, shard index) -> the sealed shard the victim held
            (s.shard_set_id, loc.shard_index): asyncio.run(
                _read_shard(cluster, victim, s.shard_set_id, loc.shard_index)
            )
            for v in versions
            for s in v.shard_sets()
            for loc in s.placement
            if loc.node_id == victim
        }
        assert lost
        cluster.kill(victim)

        def healed() -> bool:
            return all(
                len(s.placement) == 6 and victim not in {loc.node_id for loc in s.placement}
                for v in _versions(cluster, bucket, keys)
                for s in v.shard_sets()
            )

        started = time.monotonic()
        wait_for(healed, 120, "every encrypted shard set back at full redundancy")
        print(f"full redundancy {time.monotonic() - started:.1f} s after the kill")
        for key in ("s3", "kms"):
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == bodies[key], key
        got = s3.get_object(Bucket=bucket, Key="mpu", **_sse_c(customer))["Body"].read()
        assert got == bodies["mpu"]
        # Every rebuilt shard is byte for byte the sealed shard that was lost.
        for v in _versions(cluster, bucket, keys):
            for s in v.shard_sets():
                for loc in s.placement:
                    if (s.shard_set_id, loc.shard_index) in lost:
                        rebuilt = asyncio.run(
                            _read_shard(cluster, loc.node_id, s.shard_set_id, loc.shard_index)
                        )
                        assert rebuilt == lost[(s.shard_set_id, loc.shard_index)]
        first, last = 5 * MiB - 20, 5 * MiB + 20
        ranged = s3.get_object(
            Bucket=bucket, Key="mpu", Range=f"bytes={first}-{last}", **_sse_c(customer)
        )
        assert ranged["Body"].read() == bodies["mpu"][first : last + 1]
    finally:
        cluster.stop()
