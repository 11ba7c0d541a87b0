"""Over HTTPS, current SDKs send the body in aws-chunked framing with a
trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER): boto3 at its default
settings must work, and the checksum must be verified, stored and returned."""

from __future__ import annotations

import datetime
import ipaddress
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.local_cluster import LocalCluster
from tests.integration.harness import s3_client, start_cluster

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Path]]:
    root = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(root)
    cluster = start_cluster(
        root / "cluster", {"TESSERA_TLS_CERT_FILE": str(cert), "TESSERA_TLS_KEY_FILE": str(key)}
    )
    yield cluster, cert
    cluster.stop()


def test_boto3_defaults_over_https_use_trailer_checksums(
    tls_cluster: tuple[LocalCluster, Path],
) -> None:
    cluster, cert = tls_cluster
    assert cluster.endpoint.startswith("https://")
    s3 = s3_client(cluster, verify=str(cert))
    bucket = f"tls-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    seen: list[dict[str, str]] = []
    s3.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: seen.append(dict(request.headers))
    )
    for size in (0, 1, 70_000, 3 * MiB + 1):
        body = os.urandom(size)
        put = s3.put_object(Bucket=bucket, Key=f"k{size}", Body=body)
        assert "ChecksumCRC32" in put
        got = s3.get_object(Bucket=bucket, Key=f"k{size}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        assert got["ChecksumCRC32"] == put["ChecksumCRC32"]
    # the SDK really did use aws-chunked framing with a trailer
    assert any(
        str(h.get("X-Amz-Content-SHA256", h.get("x-amz-content-sha256", "")))
        .strip("b'")
        .startswith("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        for h in seen
    ), seen[-1]


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_other_checksum_algorithms(tls_cluster: tuple[LocalCluster, Path], algorithm: str) -> None:
    cluster, cert = tls_cluster
    s3 = s3_client(cluster, verify=str(cert))
    bucket = f"alg-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(MiB + 17)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm=algorithm)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]
