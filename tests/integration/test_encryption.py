"""Encryption at rest end to end with boto3: SSE-S3, SSE-KMS and SSE-C on
PUT, GET (whole and ranged), HEAD, CopyObject and multipart uploads; bucket
default encryption; S3's errors for bad or missing keys; and the disks: no
shard file holds a byte pattern of an encrypted object."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tessera.limits import CHUNK_SIZE_DEFAULT_BYTES
from tests.integration.harness import admin_output, gateway_metric

STRIPE_BYTES = 4 * CHUNK_SIZE_DEFAULT_BYTES  # the shared cluster's default geometry
MiB = 1024 * 1024


def _bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = "sse-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    return name


def _sse_c(key: bytes, prefix: str = "SSECustomer") -> dict[str, str]:
    return {
        f"{prefix}Algorithm": "AES256",
        f"{prefix}Key": base64.b64encode(key).decode(),
        f"{prefix}KeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def _marked_body(marker: bytes, size: int) -> bytes:
    return (marker * (size // len(marker) + 1))[:size]


def master_key_env(cluster: LocalCluster) -> dict[str, str]:
    """The admin CLI opens KMS keys with the cluster's master key."""
    return {"TESSERA_MASTER_KEY_FILE": str(cluster.master_key_file)}


def _chunks_read(cluster: LocalCluster) -> float:
    return gateway_metric(cluster, "tessera_gateway_shard_chunks_read_total")


def _files_holding(root: Path, pattern: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and pattern in path.read_bytes():
            found.append(path)
    return found


def test_sse_s3_put_get_head_and_ranges(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    body = os.urandom(3 * STRIPE_BYTES + 12345)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # S3: SSE-S3 ETag is the MD5
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == len(body)
    # Ranges inside one block, across a block (stripe) boundary, a suffix, the tail.
    edges = [
        (0, 0),
        (5, 99),
        (STRIPE_BYTES - 40, STRIPE_BYTES + 40),
        (STRIPE_BYTES - 16, 2 * STRIPE_BYTES),
        (len(body) - 1, len(body) - 1),
    ]
    for first, last in edges:
        part = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={first}-{last}")
        assert part["Body"].read() == body[first : last + 1], (first, last)
        assert part["ContentRange"] == f"bytes {first}-{last}/{len(body)}"
    tail = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-100")
    assert tail["Body"].read() == body[-100:]
    # An empty object and a one-byte object.
    for size in (0, 1):
        s3.put_object(
            Bucket=bucket, Key=f"e{size}", Body=b"x" * size, ServerSideEncryption="AES256"
        )
        got = s3.get_object(Bucket=bucket, Key=f"e{size}")
        assert got["Body"].read() == b"x" * size and got["ServerSideEncryption"] == "AES256"


def test_encrypted_ranges_read_only_the_stripes_they_touch(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    body = os.urandom(4 * STRIPE_BYTES)
    s3.put_object(Bucket=bucket, Key="r", Body=body, ServerSideEncryption="AES256")
    data_shards = 4
    # (range, sealed stripes it touches): blocks hold STRIPE_BYTES - 16 plaintext bytes.
    block = STRIPE_BYTES - 16
    for (first, last), stripes in [
        ((2 * block + 10, 2 * block + 99), 1),
        ((block - 5, block + 5), 2),
        ((0, 4 * STRIPE_BYTES - 1), 5),
    ]:
        before = _chunks_read(cluster)
        got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == body[first : last + 1]
        assert _chunks_read(cluster) - before == stripes * data_shards, (first, last)


def test_sse_c_round_trip_and_key_errors(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    key = os.urandom(32)
    body = os.urandom(STRIPE_BYTES + 777)
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, **_sse_c(key))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == _sse_c(key)["SSECustomerKeyMD5"]
    assert "ServerSideEncryption" not in put
    assert put["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'  # S3: not the MD5 for SSE-C
    got = s3.get_object(Bucket=bucket, Key="c", **_sse_c(key))
    assert got["Body"].read() == body
    assert got["SSECustomerKeyMD5"] == _sse_c(key)["SSECustomerKeyMD5"]
    ranged = s3.get_object(Bucket=bucket, Key="c", Range="bytes=1000-1048999", **_sse_c(key))
    assert ranged["Body"].read() == body[1000:1049000]
    head = s3.head_object(Bucket=bucket, Key="c", **_sse_c(key))
    assert head["ContentLength"] == len(body)
    s3.put_object(Bucket=bucket, Key="empty", Body=b"", **_sse_c(key))
    assert s3.get_object(Bucket=bucket, Key="empty", **_sse_c(key))["Body"].read() == b""
    with pytest.raises(ClientError) as empty_missing:
        s3.get_object(Bucket=bucket, Key="empty")
    assert _code(empty_missing) == ("InvalidRequest", 400)

    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="c")
    assert _code(missing) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as wrong:
        s3.get_object(Bucket=bucket, Key="c", **_sse_c(os.urandom(32)))
    assert _code(wrong) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as head_missing:
        s3.head_object(Bucket=bucket, Key="c")
    assert head_missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as head_wrong:
        s3.head_object(Bucket=bucket, Key="c", **_sse_c(os.urandom(32)))
    assert head_wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_bad_encryption_input_changes_nothing(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    short_key = os.urandom(16)
    bad = [
        (_sse_c(short_key), ("InvalidArgument", 400)),
        (
            {**_sse_c(os.urandom(32)), "SSECustomerKeyMD5": base64.b64encode(b"x" * 16).decode()},
            ("InvalidArgument", 400),
        ),
        ({**_sse_c(os.urandom(32)), "SSECustomerAlgorithm": "AES128"}, None),
        ({"ServerSideEncryption": "AES256", **_sse_c(os.urandom(32))}, ("InvalidArgument", 400)),
        ({"ServerSideEncryption": "AES256", "SSEKMSKeyId": "x"}, ("InvalidArgument", 400)),
        (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "no-such-key"},
            ("KMS.NotFoundException", 400),
        ),
    ]
    for args, expected in bad:
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="keep", Body=b"replacement", **args)
        code, status = _code(exc)
        if expected is not None:
            assert (code, status) == expected, args
        else:
            assert status == 400, (args, code)
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"
    plain = s3.head_object(Bucket=bucket, Key="keep")
    assert "ServerSideEncryption" not in plain
    # SSE-C headers on an object that was not stored with SSE-C
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="keep", **_sse_c(os.urandom(32)))
    assert _code(exc) == ("InvalidRequest", 400)


def test_shards_on_disk_hold_no_plaintext(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    token = secrets.token_hex(8).encode()
    plain_marker = b"<<plain-control-" + token + b">>"
    size = 2 * STRIPE_BYTES + 5000
    s3.put_object(Bucket=bucket, Key="plain", Body=_marked_body(plain_marker, size))
    markers = {
        "s3": b"<<sse-s3-secret-" + token + b">>",
        "c": b"<<sse-c-secret-" + token + b">>",
        "kms": b"<<sse-kms-secret-" + token + b">>",
        "mpu": b"<<sse-mpu-secret-" + token + b">>",
    }
    key = os.urandom(32)
    s3.put_object(
        Bucket=bucket,
        Key="s3",
        Body=_marked_body(markers["s3"], size),
        ServerSideEncryption="AES256",
    )
    s3.put_object(Bucket=bucket, Key="c", Body=_marked_body(markers["c"], size), **_sse_c(key))
    s3.put_object(
        Bucket=bucket,
        Key="kms",
        Body=_marked_body(markers["kms"], size),
        ServerSideEncryption="aws:kms",
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu", **_sse_c(key))
    part_body = _marked_body(markers["mpu"], 5 * MiB)
    etag = s3.upload_part(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=part_body,
        **_sse_c(key),
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    shard_files = [p for p in cluster.data_dir.rglob("*") if p.is_file() and "shards" in p.parts]
    assert shard_files, "no shard files found under the cluster's data dir"
    # The scan finds plaintext where there is some: the control object's shards hold it.
    assert _files_holding(cluster.data_dir, plain_marker)
    for name, marker in markers.items():
        assert _files_holding(cluster.data_dir, marker) == [], name
    # ... and every encrypted object still reads back.
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == _marked_body(
        markers["s3"], size
    )
    got = s3.get_object(Bucket=bucket, Key="mpu", **_sse_c(key))["Body"].read()
    assert got == part_body


def test_sse_kms_default_and_named_keys(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    body = os.urandom(STRIPE_BYTES + 99)
    put = s3.put_object(Bucket=bucket, Key="d", Body=body, ServerSideEncryption="aws:kms")
    assert put["ServerSideEncryption"] == "aws:kms"
    default_arn = put["SSEKMSKeyId"]
    assert default_arn.startswith("arn:aws:kms:us-east-1:")
    assert put["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'  # S3: not the MD5 for SSE-KMS
    got = s3.get_object(Bucket=bucket, Key="d")
    assert got["Body"].read() == body
    assert got["SSEKMSKeyId"] == default_arn
    # A named key, made with the admin command, by alias, id and ARN.
    out = admin_output(cluster, "kms", "create", "team-key", env=master_key_env(cluster))
    key_id = out.split()[0]
    for name in ("alias/team-key", key_id, f"arn:aws:kms:us-east-1:000000000000:key/{key_id}"):
        s3.put_object(
            Bucket=bucket, Key="n", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=name
        )
        head = s3.head_object(Bucket=bucket, Key="n")
        assert head["SSEKMSKeyId"].endswith(f":key/{key_id}"), name
        ranged = s3.get_object(Bucket=bucket, Key="n", Range=f"bytes={STRIPE_BYTES - 3}-")
        assert ranged["Body"].read() == body[STRIPE_BYTES - 3 :]
    listed = admin_output(cluster, "kms", "list", env=master_key_env(cluster))
    assert key_id in listed and "team-key" in listed and "aws/s3" in listed


def test_bucket_default_encryption(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _code(exc) == ("ServerSideEncryptionConfigurationNotFoundError", 404)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    put = s3.put_object(Bucket=bucket, Key="x", Body=b"by default")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="x")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"by default"
    # Request headers win over the default.
    key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="y", Body=b"mine", **_sse_c(key))
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="y", **_sse_c(key))
    # Bad configurations change nothing.
    for config in (
        {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "DES"}}]},
        {
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "AES256",
                        "KMSMasterKeyID": "some-key",
                    }
                }
            ]
        },
    ):
        with pytest.raises(ClientError) as bad:
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config)
        assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    assert s3.put_object(Bucket=bucket, Key="z", Body=b"k")["ServerSideEncryption"] == "aws:kms"
    s3.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _code(gone) == ("ServerSideEncryptionConfigurationNotFoundError", 404)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="w", Body=b"plain")


def test_copy_object_sse_c_source_and_destination(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    source_key, dest_key = os.urandom(32), os.urandom(32)
    body = os.urandom(2 * STRIPE_BYTES + 3)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **_sse_c(source_key))
    # Without the source key, the copy is refused.
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert _code(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as wrong:
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            **_sse_c(os.urandom(32), "CopySourceSSECustomer"),
        )
    assert _code(wrong) == ("AccessDenied", 403)
    # SSE-C source to SSE-C destination under another key.
    copied = s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        **_sse_c(source_key, "CopySourceSSECustomer"),
        **_sse_c(dest_key),
    )
    assert copied["SSECustomerKeyMD5"] == _sse_c(dest_key)["SSECustomerKeyMD5"]
    assert s3.get_object(Bucket=bucket, Key="dst", **_sse_c(dest_key))["Body"].read() == body
    with pytest.raises(ClientError) as old_key:
        s3.get_object(Bucket=bucket, Key="dst", **_sse_c(source_key))
    assert _code(old_key) == ("AccessDenied", 403)
    # SSE-C source to SSE-S3, and to plaintext.
    s3.copy_object(
        Bucket=bucket,
        Key="dst-s3",
        CopySource={"Bucket": bucket, "Key": "src"},
        ServerSideEncryption="AES256",
        **_sse_c(source_key, "CopySourceSSECustomer"),
    )
    head = s3.head_object(Bucket=bucket, Key="dst-s3")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="dst-s3")["Body"].read() == body
    s3.copy_object(
        Bucket=bucket,
        Key="dst-plain",
        CopySource={"Bucket": bucket, "Key": "src"},
        **_sse_c(source_key, "CopySourceSSECustomer"),
    )
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="dst-plain")
    assert s3.get_object(Bucket=bucket, Key="dst-plain")["Body"].read() == body
    # Re-encrypting an object in place is a legal copy to itself.
    s3.copy_object(
        Bucket=bucket,
        Key="dst-plain",
        CopySource={"Bucket": bucket, "Key": "dst-plain"},
        ServerSideEncryption="AES256",
    )
    assert s3.head_object(Bucket=bucket, Key="dst-plain")["ServerSideEncryption"] == "AES256"


def test_multipart_sse_c_every_part(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    key = os.urandom(32)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", **_sse_c(key))
    assert upload["SSECustomerAlgorithm"] == "AES256"
    upload_id = upload["UploadId"]
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB + 17), os.urandom(1234)]
    # A part without the key, or with another key, is refused and stores nothing.
    with pytest.raises(ClientError) as missing:
        s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert _code(missing) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as wrong:
        s3.upload_part(
            Bucket=bucket,
            Key="m",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"x",
            **_sse_c(os.urandom(32)),
        )
    assert _code(wrong) == ("AccessDenied", 403)
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="m", UploadId=upload_id)
    etags = []
    for number, data in enumerate(parts_data[:2], start=1):
        part = s3.upload_part(
            Bucket=bucket,
            Key="m",
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            **_sse_c(key),
        )
        assert part["SSECustomerKeyMD5"] == _sse_c(key)["SSECustomerKeyMD5"]
        etags.append(part["ETag"])
    # Part 3 copied from an SSE-C source under another key.
    source_key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="s", Body=parts_data[2], **_sse_c(source_key))
    with pytest.raises(ClientError) as no_source_key:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="m",
            UploadId=upload_id,
            PartNumber=3,
            CopySource={"Bucket": bucket, "Key": "s"},
            **_sse_c(key),
        )
    assert _code(no_source_key) == ("InvalidRequest", 400)
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key="m",
        UploadId=upload_id,
        PartNumber=3,
        CopySource={"Bucket": bucket, "Key": "s"},
        **_sse_c(source_key, "CopySourceSSECustomer"),
        **_sse_c(key),
    )
    etags.append(copied["CopyPartResult"]["ETag"])
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    whole = b"".join(parts_data)
    assert s3.get_object(Bucket=bucket, Key="m", **_sse_c(key))["Body"].read() == whole
    first, last = 5 * MiB - 10, 5 * MiB + 10  # across the part boundary
    ranged = s3.get_object(Bucket=bucket, Key="m", Range=f"bytes={first}-{last}", **_sse_c(key))
    assert ranged["Body"].read() == whole[first : last + 1]
    part2 = s3.get_object(Bucket=bucket, Key="m", PartNumber=2, **_sse_c(key))
    assert part2["Body"].read() == parts_data[1]
    assert s3.head_object(Bucket=bucket, Key="m", **_sse_c(key))["ContentLength"] == len(whole)
    with pytest.raises(ClientError) as no_key:
        s3.get_object(Bucket=bucket, Key="m")
    assert _code(no_key) == ("InvalidRequest", 400)


def test_multipart_sse_s3(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ServerSideEncryption="AES256")
    assert upload["ServerSideEncryption"] == "AES256"
    data = [os.urandom(5 * MiB), os.urandom(100)]
    etags = [
        s3.upload_part(
            Bucket=bucket, Key="m", UploadId=upload["UploadId"], PartNumber=i + 1, Body=d
        )["ETag"]
        for i, d in enumerate(data)
    ]
    assert etags[0] == f'"{hashlib.md5(data[0]).hexdigest()}"'
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    assert done["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"".join(data)


def test_post_object_encryption_field_and_bucket_default(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = _bucket(s3)
    signer = boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )

    def post(key: str, data: bytes, **fields: str) -> int:
        form = signer.generate_presigned_post(
            bucket, key, Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
        )
        answer = urllib3.PoolManager().request(
            "POST",
            form["url"],
            fields=[*form["fields"].items(), ("file", ("f", data, "application/octet-stream"))],
            encode_multipart=True,
            timeout=60,
        )
        return answer.status

    assert post("form-sse", b"form bytes", **{"x-amz-server-side-encryption": "AES256"}) == 204
    assert s3.head_object(Bucket=bucket, Key="form-sse")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="form-sse")["Body"].read() == b"form bytes"
    assert post("form-bad", b"x", **{"x-amz-server-side-encryption": "rot13"}) == 400
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert post("form-default", b"by default") == 204
    assert s3.head_object(Bucket=bucket, Key="form-default")["ServerSideEncryption"] == "AES256"
