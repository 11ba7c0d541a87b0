"""aws-cli (v1) as a real client: `aws s3` cp / ls / sync / rm --recursive of
a directory tree holding a 200 MiB file (a multipart upload), and `aws s3api`
versioning and tagging calls.

The CLI runs as a subprocess of this interpreter (python -m awscli),
configured only through environment variables and --endpoint-url. The big
file is sparse (random blocks at a few offsets over holes), so it costs
little disk here while its bytes still differ from one place to the next.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from cli.local_cluster import LocalCluster

pytestmark = pytest.mark.integration
pytest.importorskip("awscli", reason="aws-cli v1 is in the test extra")

MiB = 1024 * 1024
BIG_FILE_BYTES = 200 * MiB
CLI_TIMEOUT_SECONDS = 120


def aws(cluster: LocalCluster, *args: str) -> str:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": cluster.credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": cluster.credentials.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", cluster.endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


def aws_json(cluster: LocalCluster, *args: str) -> Any:
    out = aws(cluster, *args, "--output", "json")
    return json.loads(out) if out.strip() else {}


def make_tree(root: Path) -> dict[str, int]:
    """A small tree and one sparse 200 MiB file; returns relative path -> size."""
    files = {
        "a.txt": b"hello\n",
        "dir/b.bin": os.urandom(MiB + 3),
        "dir/sub/c.txt": "ключ ü\n".encode(),
        "dir with space/d.txt": b"",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    big = root / "big.bin"
    with big.open("wb") as f:
        f.truncate(BIG_FILE_BYTES)
        for offset in (0, 7 * MiB + 5, 99 * MiB, BIG_FILE_BYTES - MiB):
            f.seek(offset)
            f.write(os.urandom(MiB // 2))
    sizes = {rel: len(data) for rel, data in files.items()}
    sizes["big.bin"] = BIG_FILE_BYTES
    return sizes


def listed_sizes(listing: str, prefix: str) -> dict[str, int]:
    """`aws s3 ls --recursive` lines: date time size key."""
    sizes = {}
    for line in listing.splitlines():
        _, _, size, key = line.split(maxsplit=3)
        sizes[key.removeprefix(prefix)] = int(size)
    return sizes


def test_s3_recursive_round_trip(cluster: LocalCluster, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    src, dst = tmp_path / "src", tmp_path / "dst"
    sizes = make_tree(src)
    aws(cluster, "s3", "mb", f"s3://{bucket}")
    aws(cluster, "s3", "cp", "--recursive", "--only-show-errors", str(src), f"s3://{bucket}/tree/")
    listing = aws(cluster, "s3", "ls", "--recursive", f"s3://{bucket}/tree/")
    assert listed_sizes(listing, "tree/") == sizes
    aws(cluster, "s3", "sync", "--only-show-errors", f"s3://{bucket}/tree/", str(dst))
    for rel in sizes:
        assert filecmp.cmp(src / rel, dst / rel, shallow=False), rel
    # syncing back up sends only the file that changed
    (src / "a.txt").write_bytes(b"changed\n")
    synced = aws(cluster, "s3", "sync", "--no-progress", str(src), f"s3://{bucket}/tree/")
    lines = synced.splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"a.txt to s3://{bucket}/tree/a.txt"), lines
    aws(cluster, "s3", "rm", "--recursive", "--only-show-errors", f"s3://{bucket}/tree/")
    assert aws(cluster, "s3", "ls", "--recursive", f"s3://{bucket}/") == ""


def test_s3api_versioning_and_tagging(cluster: LocalCluster, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    body = tmp_path / "body"
    aws(cluster, "s3api", "create-bucket", "--bucket", bucket)
    aws(
        cluster,
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        bucket,
        "--versioning-configuration",
        "Status=Enabled",
    )
    ids = []
    for text in (b"one", b"two"):
        body.write_bytes(text)
        put = aws_json(
            cluster, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(body)
        )
        ids.append(put["VersionId"])
    versions = aws_json(cluster, "s3api", "list-object-versions", "--bucket", bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [
        (ids[1], True),
        (ids[0], False),
    ]
    aws(
        cluster,
        "s3api",
        "put-object-tagging",
        "--bucket",
        bucket,
        "--key",
        "k",
        "--version-id",
        ids[0],
        "--tagging",
        "TagSet=[{Key=team,Value=storage}]",
    )
    tags = aws_json(
        cluster, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "k",
        "--version-id", ids[0],
    )  # fmt: skip
    assert tags["TagSet"] == [{"Key": "team", "Value": "storage"}]
