"""S3 clients from other codebases doing round trips against a real cluster:
the MinIO Python SDK (in the test extra), rclone and s3cmd (Debian packages
that scripts/bootstrap.sh --test installs). Each uploads a small file and a
multipart-sized one, lists, downloads byte-identical copies, and deletes.

Files are random bytes made here; the multipart ones are a few parts of the
5 MiB minimum, so each client really takes its multipart path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from cli.local_cluster import LocalCluster
from tests.integration.harness import s3_client

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PART_BYTES = 5 * MiB
MULTIPART_FILE_BYTES = 3 * PART_BYTES + 12345  # four parts, the last one short
CLIENT_TIMEOUT_SECONDS = 180


def host_port(cluster: LocalCluster) -> str:
    return cluster.endpoint.split("://", 1)[1]


def make_files(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "small.txt": b"hello from another client\n",
        "big.bin": os.urandom(MULTIPART_FILE_BYTES),
        "nested/deeper/file name+plus.bin": os.urandom(4097),
    }
    for name, body in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return files


def run(args: list[str]) -> str:
    # rclone's AWS SDK fails on an AWS_CA_BUNDLE it cannot attach to its own
    # transport; the cluster here speaks plain HTTP on loopback anyway.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    done = subprocess.run(
        args,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout[-1500:]} {done.stderr[-2500:]}"
    return done.stdout


# ---------------------------------------------------------------- MinIO SDK


def test_minio_sdk_round_trip(cluster: LocalCluster, tmp_path: Path) -> None:
    minio = pytest.importorskip("minio", reason="the MinIO SDK is in the test extra")
    client = minio.Minio(
        host_port(cluster),
        access_key=cluster.credentials.access_key,
        secret_key=cluster.credentials.secret_key,
        secure=False,
        region="us-east-1",
    )
    bucket = f"minio-{uuid.uuid4().hex[:8]}"
    client.make_bucket(bucket)
    assert client.bucket_exists(bucket)
    files = make_files(tmp_path / "up")
    for name in files:
        client.fput_object(bucket, name, str(tmp_path / "up" / name), part_size=PART_BYTES)
    big = client.stat_object(bucket, "big.bin")
    assert big.size == MULTIPART_FILE_BYTES
    assert big.etag is not None and big.etag.endswith("-4")  # a 4-part multipart upload
    listed = sorted(o.object_name for o in client.list_objects(bucket, recursive=True))
    assert listed == sorted(files)
    top = sorted(o.object_name for o in client.list_objects(bucket, prefix="nested/"))
    assert top == ["nested/deeper/"]
    for name, body in files.items():
        target = tmp_path / "down" / name
        client.fget_object(bucket, name, str(target))
        assert target.read_bytes() == body
    response = client.get_object(bucket, "big.bin", offset=PART_BYTES - 10, length=20)
    try:
        assert response.read() == files["big.bin"][PART_BYTES - 10 : PART_BYTES + 10]
    finally:
        response.close()
        response.release_conn()
    errors = list(
        client.remove_objects(bucket, [minio.deleteobjects.DeleteObject(n) for n in files])
    )
    assert errors == []
    assert list(client.list_objects(bucket, recursive=True)) == []
    client.remove_bucket(bucket)
    assert not client.bucket_exists(bucket)


# ---------------------------------------------------------------- rclone


@pytest.mark.skipif(shutil.which("rclone") is None, reason="bootstrap --test installs rclone")
def test_rclone_round_trip(cluster: LocalCluster, tmp_path: Path) -> None:
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[tessera]\n"
        "type = s3\n"
        "provider = Other\n"
        f"access_key_id = {cluster.credentials.access_key}\n"
        f"secret_access_key = {cluster.credentials.secret_key}\n"
        f"endpoint = {cluster.endpoint}\n"
        "region = us-east-1\n"
        "force_path_style = true\n"
    )
    base = [
        "rclone",
        "--config",
        str(config),
        "--low-level-retries",
        "1",
        "--retries",
        "1",
        "--s3-upload-cutoff",
        "5M",
        "--s3-chunk-size",
        "5M",
    ]
    bucket = f"rclone-{uuid.uuid4().hex[:8]}"
    files = make_files(tmp_path / "up")
    run([*base, "mkdir", f"tessera:{bucket}"])
    run([*base, "copy", str(tmp_path / "up"), f"tessera:{bucket}/tree"])
    listed = run([*base, "lsf", "-R", "--files-only", f"tessera:{bucket}/tree"]).splitlines()
    assert sorted(listed) == sorted(files)
    sizes = run([*base, "size", "--json", f"tessera:{bucket}"])
    assert f'"bytes":{sum(len(b) for b in files.values())}' in sizes.replace(" ", "")
    etag = s3_client(cluster).head_object(Bucket=bucket, Key="tree/big.bin")["ETag"]
    assert etag.endswith('-4"')  # rclone took its multipart path: 4 chunks of 5 MiB
    # check compares sizes and MD5s (rclone keeps a multipart file's MD5 in its metadata)
    run([*base, "check", str(tmp_path / "up"), f"tessera:{bucket}/tree"])
    run([*base, "copy", f"tessera:{bucket}/tree", str(tmp_path / "down")])
    for name, body in files.items():
        assert (tmp_path / "down" / name).read_bytes() == body
    run([*base, "delete", f"tessera:{bucket}/tree", "--include", "small.txt"])
    listed = run([*base, "lsf", "-R", "--files-only", f"tessera:{bucket}"]).splitlines()
    assert sorted(listed) == sorted(f"tree/{n}" for n in files if n != "small.txt")
    run([*base, "purge", f"tessera:{bucket}"])
    buckets = run([*base, "lsd", "tessera:"])
    assert bucket not in buckets


# ---------------------------------------------------------------- s3cmd


@pytest.mark.skipif(shutil.which("s3cmd") is None, reason="bootstrap --test installs s3cmd")
def test_s3cmd_round_trip(cluster: LocalCluster, tmp_path: Path) -> None:
    config = tmp_path / "s3cmd.cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {cluster.credentials.access_key}\n"
        f"secret_key = {cluster.credentials.secret_key}\n"
        f"host_base = {host_port(cluster)}\n"
        f"host_bucket = {host_port(cluster)}\n"
        "bucket_location = us-east-1\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "multipart_chunk_size_mb = 5\n"
    )
    base = ["s3cmd", "--config", str(config), "--no-progress"]
    bucket = f"s3cmd-{uuid.uuid4().hex[:8]}"
    files = make_files(tmp_path / "up")
    run([*base, "mb", f"s3://{bucket}"])
    for name in files:
        run([*base, "put", str(tmp_path / "up" / name), f"s3://{bucket}/{name}"])
    listing = run([*base, "ls", "--recursive", f"s3://{bucket}"])
    assert sorted(line.split(f"s3://{bucket}/", 1)[1] for line in listing.splitlines()) == sorted(
        files
    )
    info = run([*base, "info", f"s3://{bucket}/big.bin"])
    assert f"File size: {MULTIPART_FILE_BYTES}" in info
    assert f"MD5 sum:   {hashlib.md5(files['big.bin']).hexdigest()}" in info
    etag = s3_client(cluster).head_object(Bucket=bucket, Key="big.bin")["ETag"]
    assert etag.endswith('-4"')  # s3cmd took its multipart path: 4 parts of 5 MiB
    for name, body in files.items():
        target = tmp_path / "down" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        run([*base, "get", f"s3://{bucket}/{name}", str(target)])
        assert target.read_bytes() == body
    run([*base, "del", "--recursive", "--force", f"s3://{bucket}"])
    assert run([*base, "ls", "--recursive", f"s3://{bucket}"]).strip() == ""
    run([*base, "rb", f"s3://{bucket}"])
    assert bucket not in run([*base, "ls"])
