"""The manifests' pods, run for real: every role started with exactly the
command, arguments and environment the rendered manifests give it (only
addresses and volume paths moved onto this host, see pods.py), all at once and
in no order as Kubernetes starts them, ready by their own readiness probes,
then an S3 round trip through the gateway Service and a graceful stop of
everything. So the manifests cannot drift from the code. etcd runs from its
manifests too, with Debian's etcd binary in place of the image's.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from tests.deploy.manifests import Manifests
from tests.deploy.pods import Loopback, is_tessera_image

pytestmark = pytest.mark.integration

Render = Callable[[str], Manifests]
READY_TIMEOUT_SECONDS = 120.0
GATEWAY = "tessera-gateway-0"


def components() -> set[str]:
    return {"gateway", "metadata", "node", "etcd"}


def start(manifests: Manifests, workdir: Path, wanted: set[str]) -> Loopback:
    cluster = Loopback(manifests, workdir, wanted)
    cluster.start_all()
    try:
        cluster.wait_ready(READY_TIMEOUT_SECONDS)
    except BaseException:
        cluster.kill_all()
        raise
    return cluster


# Every client a test made, closed when it ends: a client's pooled
# connection that a stopping gateway closed would otherwise be finalized
# unclosed whenever the client is collected (a ResourceWarning, an error
# here, raised in whichever test is running then).
_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def s3_client(cluster: Loopback):  # type: ignore[no-untyped-def]
    env = cluster.processes[GATEWAY].env  # the credentials the Secret gives the gateway
    client = boto3.client(
        "s3",
        endpoint_url=cluster.url("tessera-gateway", "s3"),
        aws_access_key_id=env["TESSERA_ACCESS_KEY"],
        aws_secret_access_key=env["TESSERA_SECRET_KEY"],
        region_name=env["TESSERA_REGION"],
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 1, "mode": "standard"},
            read_timeout=60,
        ),
    )
    _CLIENTS.append(client)
    return client


def round_trip(cluster: Loopback, bucket: str) -> None:
    s3 = s3_client(cluster)
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(3 * 1024 * 1024 + 12345)  # several stripes, a short last one
    s3.put_object(Bucket=bucket, Key="dir/object.bin", Body=body)
    assert s3.get_object(Bucket=bucket, Key="dir/object.bin")["Body"].read() == body
    ranged = s3.get_object(Bucket=bucket, Key="dir/object.bin", Range="bytes=1000000-1000099")
    assert ranged["Body"].read() == body[1000000:1000100]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/object.bin"]
    s3.delete_object(Bucket=bucket, Key="dir/object.bin")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    s3.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="module")
def dev(rendered: Render, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    cluster = start(rendered("dev"), tmp_path_factory.mktemp("dev-pods"), components())
    yield cluster
    cluster.kill_all()


def test_processes_get_exactly_what_the_manifests_say(dev: Loopback) -> None:
    assert {p.pod.component for p in dev.processes.values()} == components()
    for name, proc in dev.processes.items():
        assert proc.local_argv[1:] == proc.argv[1:], name  # the program's path aside
        if is_tessera_image(proc.container["image"]):
            assert proc.argv[0] == "tessera" and proc.local_argv[0].endswith("/tessera")
        assert set(proc.local_env) == set(proc.env), name
        for key, value in proc.env.items():
            if proc.local_env[key] != value:  # moved: an address or a volume path
                assert any(c in value for c in (":", "/")), (name, key, value)


def test_s3_round_trip_through_the_gateway_service(dev: Loopback) -> None:
    round_trip(dev, "deploy-round-trip")


def test_website_service_serves_a_website_bucket(dev: Loopback) -> None:
    s3 = s3_client(dev)
    bucket = "deploy-site"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="index.html", Body=b"<h1>hi</h1>", ContentType="text/html",
        ACL="public-read",
    )  # fmt: skip
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )
    with urllib.request.urlopen(f"{dev.url('tessera-website', 'website')}/{bucket}/") as got:
        assert got.status == 200 and got.read() == b"<h1>hi</h1>"
    with pytest.raises(urllib.error.HTTPError) as refused:  # read-only
        urllib.request.urlopen(
            urllib.request.Request(
                f"{dev.url('tessera-website', 'website')}/{bucket}/x", data=b"x", method="PUT"
            )
        )
    refused.value.close()
    assert refused.value.code == 405


def test_every_pod_serves_metrics_on_its_scraped_port(dev: Loopback) -> None:
    for name, proc in dev.processes.items():
        port = proc.pod.container_ports().get("ops") or proc.pod.container_ports()["metrics"]
        url = f"http://127.0.0.1:{dev.ports[(name, port)]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        prefix = "etcd_" if proc.pod.component == "etcd" else f"tessera_{proc.pod.component}_"
        assert prefix in text, name


def readiness(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_gateway_finishes_an_inflight_put_on_sigterm(dev: Loopback) -> None:
    """SIGTERM mid-upload: the gateway turns unready, refuses new connections,
    reads the rest of the running PUT, commits it, answers 200 and exits 0."""
    s3 = s3_client(dev)
    s3.create_bucket(Bucket="deploy-graceful")
    url = urlsplit(
        s3.generate_presigned_url(
            "put_object", Params={"Bucket": "deploy-graceful", "Key": "big"}, ExpiresIn=600
        )
    )
    body = os.urandom(6 * 1024 * 1024)
    gateway = dev.processes[GATEWAY]
    assert gateway.popen is not None
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    half = len(body) // 2
    conn.send(body[:half])

    gateway.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while readiness(gateway.ready_url) != 503:
        assert time.monotonic() < deadline, "still ready after SIGTERM"
        time.sleep(0.05)
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection(url.hostname, url.port, timeout=5).connect()

    step = 256 * 1024
    for offset in range(half, len(body), step):  # the client keeps going, slowly
        conn.send(body[offset : offset + step])
        time.sleep(0.02)
    response = conn.getresponse()
    assert response.status == 200, response.read()[:500]
    conn.close()
    assert gateway.popen.wait(gateway.grace_seconds) == 0

    dev.start(GATEWAY)  # a new gateway pod finds the object committed
    dev.wait_ready(READY_TIMEOUT_SECONDS, [GATEWAY])
    s3 = s3_client(dev)
    assert s3.get_object(Bucket="deploy-graceful", Key="big")["Body"].read() == body
    s3.delete_object(Bucket="deploy-graceful", Key="big")
    s3.delete_bucket(Bucket="deploy-graceful")


def test_every_role_stops_cleanly_within_its_grace(dev: Loopback) -> None:
    """Runs last in this module: it stops the cluster (gateways, then nodes,
    metadata and etcd, each with SIGTERM and its terminationGracePeriodSeconds)."""
    for name in dev.stop_order():
        started = time.monotonic()
        clean = (0, -signal.SIGTERM) if dev.processes[name].pod.component == "etcd" else (0,)
        assert dev.stop(name) in clean, f"{name} did not stop cleanly:\n{dev.log(name)[-3000:]}"
        assert time.monotonic() - started < dev.processes[name].grace_seconds
        assert "Traceback" not in dev.log(name), dev.log(name)[-3000:]


def etcd_call(endpoint: str, path: str, request: dict[str, str]) -> dict:  # type: ignore[type-arg]
    req = urllib.request.Request(endpoint + path, data=json.dumps(request).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_production_etcd_members_form_one_cluster(rendered: Render, tmp_path: Path) -> None:
    cluster = start(rendered("production"), tmp_path, {"etcd"})
    try:
        names = sorted(cluster.processes)
        assert len(names) == 3
        endpoints = [cluster.url(f"{n}.tessera-etcd", "client") for n in names]
        members = etcd_call(endpoints[0], "/v3/cluster/member/list", {})["members"]
        assert sorted(m["name"] for m in members) == names
        etcd_call(endpoints[0], "/v3/kv/put", {"key": b64("k"), "value": b64("v")})
        got = etcd_call(endpoints[2], "/v3/kv/range", {"key": b64("k")})
        assert base64.b64decode(got["kvs"][0]["value"]) == b"v"
        for name in names:
            # etcd stops cleanly, then re-raises the signal on itself
            # (pkg/osutil.HandleInterrupts): killed by SIGTERM is its clean exit.
            assert cluster.stop(name) in (0, -signal.SIGTERM), cluster.log(name)[-2000:]
    finally:
        cluster.kill_all()


def test_production_round_trip(rendered: Render, tmp_path: Path) -> None:
    cluster = start(rendered("production"), tmp_path, components())
    try:
        round_trip(cluster, "deploy-production")
        for name in cluster.stop_order():
            clean = (0, -signal.SIGTERM) if name.startswith("tessera-etcd") else (0,)
            assert cluster.stop(name) in clean, cluster.log(name)[-2000:]
    finally:
        cluster.kill_all()
