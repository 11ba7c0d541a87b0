"""`tessera up` as a user runs it: it prints what an S3 client needs, stops
every child on SIGTERM, and finds its data again on the next start."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest
from botocore.config import Config

pytestmark = pytest.mark.integration


def free_base_port() -> int:
    """A base port whose internal ports are free: website, S3 and admin
    (base-3, base-2, base-1), metadata replicas (base..base+5), etcd
    (base+50..base+55), nodes (base+100..base+123)."""
    for base in range(21000 + os.getpid() % 4000, 30000, 173):
        wanted = [
            base - 3,
            base - 2,
            base - 1,
            *range(base, base + 6),
            *range(base + 50, base + 56),
            *range(base + 100, base + 124),
        ]
        try:
            for port in wanted:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


def start_up(data_dir: Path, base: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(base - 2),
            "--base-port",
            str(base),
            "--website-port",
            str(base - 3),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        for name, pattern in [
            ("endpoint", r"S3 endpoint:\s+(\S+)"),
            ("access_key", r"access key:\s+(\S+)"),
            ("secret_key", r"secret key:\s+(\S+)"),
            ("websites", r"websites:\s+(\S+)/<bucket>/"),
            ("standard", r"^\s+STANDARD (\d+\+\d+) \(1\.80x\): survives a whole zone plus 1"),
            ("reduced", r"^\s+REDUCED_REDUNDANCY (\d+\+\d+) \(1\.50x\): survives a whole zone"),
        ]:
            m = re.search(pattern, line)
            if m:
                found[name] = m.group(1)
        if "Stop with Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert set(found) == {
        "endpoint",
        "access_key",
        "secret_key",
        "websites",
        "standard",
        "reduced",
    }, found
    assert (found["standard"], found["reduced"]) == ("5+4", "4+2")
    return proc, found


def stop_up(proc: subprocess.Popen[str]) -> None:
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == 19  # 3 etcd members, 3 metadata replicas, twelve nodes, gateway
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(60) == 0
    finally:
        assert proc.stdout is not None
        proc.stdout.close()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"children left running: {alive}"


def client(info: dict[str, str]):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=info["endpoint"],
        aws_access_key_id=info["access_key"],
        aws_secret_access_key=info["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def test_up_prints_credentials_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    base = free_base_port()
    proc, info = start_up(tmp_path / "data", base)
    try:
        s3 = client(info)
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="greeting", Body=b"hello again")
        s3.put_object(
            Bucket="kept", Key="cheap", Body=b"c" * 9000, StorageClass="REDUCED_REDUNDANCY"
        )
        # The website endpoint is up too: a public page of a website bucket.
        s3.put_object(Bucket="kept", Key="index.html", Body=b"<p>hi</p>", ACL="public-read")
        s3.put_bucket_website(
            Bucket="kept", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        )
        assert info["websites"] == f"http://127.0.0.1:{base - 3}"
        with urllib.request.urlopen(f"{info['websites']}/kept/", timeout=30) as page:
            assert page.read() == b"<p>hi</p>"
    finally:
        stop_up(proc)
    proc, again = start_up(tmp_path / "data", base)
    try:
        assert again == info  # same credentials from the same data directory
        got = client(again).get_object(Bucket="kept", Key="greeting")["Body"].read()
        assert got == b"hello again"
        cheap = client(again).head_object(Bucket="kept", Key="cheap")
        assert cheap["StorageClass"] == "REDUCED_REDUNDANCY"
    finally:
        stop_up(proc)
