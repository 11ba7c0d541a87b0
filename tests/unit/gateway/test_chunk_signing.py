"""aws-chunked signatures against the example AWS publishes for
STREAMING-AWS4-HMAC-SHA256-PAYLOAD (PUT /chunkObject.txt, 66560 bytes of 'a'
in chunks of 65536, 1024 and 0)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from gateway.auth.canonical import signing_key
from gateway.auth.chunk_signing import ChunkSigner, parse_chunk_header, parse_trailer_line
from gateway.auth.sigv4 import PayloadMode, RequestView, verify_header_auth
from tessera import errors

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SCOPE = "20130524/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = [
    (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
]


def signer() -> ChunkSigner:
    key = signing_key(SECRET, "20130524", "us-east-1")
    return ChunkSigner(key, "20130524T000000Z", SCOPE, SEED)


def test_seed_signature_of_the_aws_example() -> None:
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": (
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
        ),
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
    }
    view = RequestView(
        method="PUT",
        raw_path="/examplebucket/chunkObject.txt",
        query=[],
        headers=headers,
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    result = verify_header_auth(
        view, lambda ak: SECRET if ak == "AKIAIOSFODNN7EXAMPLE" else None, "us-east-1"
    )
    assert result.payload_mode == PayloadMode.STREAMING_SIGNED
    assert result.seed_signature == SEED and result.scope == SCOPE


def test_chunk_chain_of_the_aws_example() -> None:
    s = signer()
    for data, sig in CHUNK_SIGNATURES:
        s.verify_chunk(hashlib.sha256(data).hexdigest(), sig)


def test_a_reordered_or_altered_chunk_fails() -> None:
    s = signer()
    with pytest.raises(errors.SignatureDoesNotMatch):
        s.verify_chunk(hashlib.sha256(b"a" * 1024).hexdigest(), CHUNK_SIGNATURES[0][1])
    s = signer()
    with pytest.raises(errors.SignatureDoesNotMatch):
        s.verify_chunk(hashlib.sha256(b"b" + b"a" * 65535).hexdigest(), CHUNK_SIGNATURES[0][1])


def test_parse_chunk_headers() -> None:
    assert parse_chunk_header(b"10000;chunk-signature=abc", signed=True).size_bytes == 65536
    assert parse_chunk_header(b"400", signed=False).signature is None
    with pytest.raises(errors.SignatureDoesNotMatch):
        parse_chunk_header(b"400", signed=True)
    with pytest.raises(errors.IncompleteBody):
        parse_chunk_header(b"zz;chunk-signature=abc", signed=True)
    with pytest.raises(errors.InvalidArgument):
        parse_chunk_header(b"7fffffff", signed=False)
    assert parse_trailer_line(b"X-Amz-Checksum-CRC32: AAAAAA==") == (
        "x-amz-checksum-crc32",
        "AAAAAA==",
    )
