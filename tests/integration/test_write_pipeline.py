"""The pipelined write path (gateway/write_path.py, _stream_stripes): a body of
many stripes is hashed and encoded while the next stripe is read, and its
digests still see the stripes in body order — the ETag is the MD5 of the
body, Content-MD5 and x-amz-checksum-* values are checked against the body as
sent, a wrong one stores nothing — with and without encryption. Small bodies
(up to 4096 bytes) are kept inline by default."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tessera.limits import CHUNK_SIZE_DEFAULT_BYTES
from tests.integration.test_inline_objects import all_shard_names
from tests.integration.test_repair import _versions, run

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
STRIPE_BYTES = 4 * CHUNK_SIZE_DEFAULT_BYTES  # the default geometry: 4 data shards


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.mark.parametrize(
    "size", [STRIPE_BYTES - 1, 3 * STRIPE_BYTES, 3 * STRIPE_BYTES + 1, 5 * MiB + 123]
)
def test_many_stripes_keep_their_digests_in_order(s3, bucket: str, size: int) -> None:  # type: ignore[no-untyped-def]
    # Every stripe different, so a stripe hashed out of order changes every digest.
    body = b"".join(
        bytes([i % 251]) * min(STRIPE_BYTES, size - i * STRIPE_BYTES)
        for i in range(-(-size // STRIPE_BYTES))
    )
    body = bytes(b ^ r for b, r in zip(body, os.urandom(len(body)), strict=True))
    sha = hashlib.sha256(body).digest()
    put = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=body,
        ContentMD5=_b64(hashlib.md5(body).digest()),
        ChecksumSHA256=_b64(sha),
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumSHA256"] == _b64(sha)


def test_a_wrong_digest_on_a_late_stripe_stores_nothing(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(4 * STRIPE_BYTES + 5)
    sent_as = bytearray(body)
    sent_as[-1] ^= 1  # the digests are of a body that differs in its last stripe only
    for kwargs, code in (
        ({"ContentMD5": _b64(hashlib.md5(sent_as).digest())}, "BadDigest"),
        ({"ChecksumSHA256": _b64(hashlib.sha256(sent_as).digest())}, "BadDigest"),
    ):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key="bad", Body=body, **kwargs)
        assert err.value.response["Error"]["Code"] == code
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket=bucket, Key="bad")
        assert missing.value.response["Error"]["Code"] == "404"


def test_a_one_stripe_body_goes_whole_and_a_wrong_digest_stores_nothing(
    cluster: LocalCluster, s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    """A body of one stripe (sent to each node in one PutWholeShard call, only
    once the body is verified): a wrong Content-MD5 leaves no shard on any
    node, and a right one stores all six (4 + 2) and reads back."""
    body = os.urandom(100 * 1024)
    before = all_shard_names(cluster)
    with pytest.raises(ClientError) as err:
        s3.put_object(
            Bucket=bucket, Key="one", Body=body, ContentMD5=_b64(hashlib.md5(b"other").digest())
        )
    assert err.value.response["Error"]["Code"] == "BadDigest"
    assert all_shard_names(cluster) - before == set()
    s3.put_object(Bucket=bucket, Key="one", Body=body)
    (version,) = run(_versions(cluster, bucket, ["one"]))
    stored = {n for n in all_shard_names(cluster) - before if n.startswith(version.version_id)}
    assert stored == {f"{version.version_id}.{i}" for i in range(6)}
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == body


def test_an_encrypted_body_of_many_stripes(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(3 * MiB + 77)
    put = s3.put_object(
        Bucket=bucket,
        Key="sealed",
        Body=body,
        ServerSideEncryption="AES256",
        ContentMD5=_b64(hashlib.md5(body).digest()),
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # SSE-S3: still the MD5
    assert s3.get_object(Bucket=bucket, Key="sealed")["Body"].read() == body
    got = s3.get_object(Bucket=bucket, Key="sealed", Range="bytes=1048000-2097200")
    assert got["Body"].read() == body[1048000:2097201]


def test_small_objects_are_inline_by_default(cluster: LocalCluster, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    bodies = {"small": b"s" * 4096, "large": b"l" * 4097}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    versions = {v.key: v for v in run(_versions(cluster, bucket, sorted(bodies)))}
    names = all_shard_names(cluster)
    small, large = versions["small"], versions["large"]
    assert small.inline_data == bodies["small"] and small.placement == ()
    assert not any(name.startswith(small.version_id) for name in names)
    assert large.inline_data == b"" and len(large.placement) == 6
    assert any(name.startswith(large.version_id) for name in names)
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
