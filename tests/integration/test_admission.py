"""Admission control sizes each request's reservation by its body
(gateway/admission.py, docs/gateway.md "Memory bound").

A hundred PUTs of 4 KiB are held in flight at once — each has sent its
headers and part of its body, so the gateway has admitted it and waits for
the rest — and every one must be admitted (the gateway's in-flight gauge
shows all hundred reservations) and then stored. When every PUT reserved a
full stripe pipeline (8.5 MiB with 4+2), the default 512 MiB budget refused
the 61st with 503 SlowDown.
"""

from __future__ import annotations

import http.client
import os
import time
import uuid
from urllib.parse import urlparse

import pytest

from cli.local_cluster import LocalCluster
from gateway.admission import write_buffer_bytes
from tessera.geometry import Geometry
from tessera.limits import CHUNK_SIZE_DEFAULT_BYTES
from tests.integration.harness import gateway_metric, s3_client

pytestmark = pytest.mark.integration

WRITERS = 100
BODY_BYTES = 4096
FIRST_PART_BYTES = 100
ADMITTED_WITHIN_SECONDS = 60.0


def inflight_bytes(cluster: LocalCluster) -> float:
    return gateway_metric(cluster, "tessera_gateway_inflight_bytes")


def test_many_small_puts_in_flight_are_all_admitted(cluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"admission-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    bodies = {f"k/{i:03d}": os.urandom(BODY_BYTES) for i in range(WRITERS)}
    signer = s3_client(cluster, signature_version="s3v4")
    connections: dict[str, http.client.HTTPConnection] = {}
    try:
        for key, body in bodies.items():
            url = urlparse(
                signer.generate_presigned_url(
                    "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
                )
            )
            conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=120)
            conn.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
            conn.putheader("Content-Length", str(BODY_BYTES))
            conn.endheaders()
            conn.send(body[:FIRST_PART_BYTES])
            connections[key] = conn
        # Every PUT is admitted and holds its reservation, waiting for its body
        # (the shared cluster: 3 zones x 2 nodes, so 4+2).
        geometry = Geometry(4, 2, CHUNK_SIZE_DEFAULT_BYTES)
        expected = WRITERS * write_buffer_bytes(geometry, BODY_BYTES)
        deadline = time.monotonic() + ADMITTED_WITHIN_SECONDS
        while (seen := inflight_bytes(cluster)) != expected:
            assert time.monotonic() < deadline, f"{seen:.0f} of {expected} bytes admitted"
            time.sleep(0.2)
        for key, conn in connections.items():
            conn.send(bodies[key][FIRST_PART_BYTES:])
        statuses = {}
        for key, conn in connections.items():
            reply = conn.getresponse()
            statuses[key] = (reply.status, reply.read()[:200])
        assert {k: s for k, s in statuses.items() if s[0] != 200} == {}
    finally:
        for conn in connections.values():
            conn.close()
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert inflight_bytes(cluster) == 0
