"""Multipart uploads against a real cluster with boto3: create, upload,
complete, abort, the listings, UploadPartCopy, conditional completion, ranges
across part boundaries, ?partNumber reads, and the checksums S3 defines."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from pathlib import Path

import awscrt.checksums
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
PART = 5 * MiB


@pytest.fixture(scope="module")
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"mpu-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def upload_parts(s3, bucket: str, key: str, parts: list[bytes], **create: object):  # type: ignore[no-untyped-def]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    listed = []
    for number, body in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]
        listed.append({"PartNumber": number, "ETag": etag})
    return upload_id, listed


def test_create_upload_complete_round_trip(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    parts = [os.urandom(PART), os.urandom(PART + 17), os.urandom(123)]
    upload_id, listed = upload_parts(
        s3, bucket, "big", parts, ContentType="text/x-test", Metadata={"color": "blue"}
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    assert done["ETag"] == multipart_etag(parts)
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == whole
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "text/x-test" and got["Metadata"] == {"color": "blue"}
    assert got["ContentLength"] == len(whole)
    # ranges inside one part, across a boundary, across all three parts, and a suffix
    for first, last in [
        (10, 20),
        (PART - 5, PART + 5),
        (PART - 1, 2 * PART + 20),
        (0, len(whole) - 1),
    ]:
        ranged = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={first}-{last}")
        assert ranged["Body"].read() == whole[first : last + 1], (first, last)
    tail = s3.get_object(Bucket=bucket, Key="big", Range="bytes=-130")["Body"].read()
    assert tail == whole[-130:]
    # ?partNumber reads one part and tells how many there are
    second = s3.get_object(Bucket=bucket, Key="big", PartNumber=2)
    assert second["Body"].read() == parts[1] and second["PartsCount"] == 3
    assert s3.head_object(Bucket=bucket, Key="big", PartNumber=3)["ContentLength"] == 123
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="big", PartNumber=4)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    # the upload is gone once complete; listed in the bucket as one object
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="big")["Contents"]
    assert listing[0]["ETag"] == multipart_etag(parts) and listing[0]["Size"] == len(whole)
    # a server-side copy of a multipart object reads every segment
    s3.copy_object(Bucket=bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    assert s3.get_object(Bucket=bucket, Key="big-copy")["Body"].read() == whole


def test_upload_file_round_trips_byte_identical(s3, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(21 * MiB + 333))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), bucket, "transfer/file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="transfer/file.bin")
    assert head["ETag"].strip('"').endswith("-5")
    target = tmp_path / "target.bin"
    s3.download_file(bucket, "transfer/file.bin", str(target), Config=config)
    assert (
        hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    )


def test_completion_errors(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    parts = [os.urandom(PART), os.urandom(1000), os.urandom(1000)]
    upload_id, listed = upload_parts(s3, bucket, "errs", parts)

    def complete(parts_list: list[dict[str, object]]) -> str:
        with pytest.raises(ClientError) as exc:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="errs", UploadId=upload_id, MultipartUpload={"Parts": parts_list}
            )
        return code_of(exc)

    wrong = [dict(listed[0]), dict(listed[1])]
    wrong[1]["ETag"] = '"' + "0" * 32 + '"'
    assert complete(wrong) == "InvalidPart"
    assert complete([listed[0], {"PartNumber": 9, "ETag": listed[1]["ETag"]}]) == "InvalidPart"
    assert complete([listed[1], listed[0]]) == "InvalidPartOrder"
    assert complete([listed[0], listed[1], listed[2]]) == "EntityTooSmall"  # part 2 is 1000 B
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="errs", UploadId=upload_id, PartNumber=10001, Body=b"x")
    assert code_of(exc) == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="errs", UploadId="0" * 26, PartNumber=1, Body=b"x")
    assert code_of(exc) == "NoSuchUpload"
    # the upload survives failed completions; the last part may be small
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="errs",
        UploadId=upload_id,
        MultipartUpload={"Parts": [listed[0], listed[2]]},
    )
    assert s3.get_object(Bucket=bucket, Key="errs")["Body"].read() == parts[0] + parts[2]


def test_completing_twice(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    parts = [os.urandom(PART), os.urandom(10)]
    upload_id, listed = upload_parts(s3, bucket, "twice", parts)
    request = {"Bucket": bucket, "Key": "twice", "UploadId": upload_id}
    first = s3.complete_multipart_upload(**request, MultipartUpload={"Parts": listed})
    # a retry of the same completion gets the same answer ...
    again = s3.complete_multipart_upload(**request, MultipartUpload={"Parts": listed})
    assert again["ETag"] == first["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="twice")["Body"].read() == b"".join(parts)
    # ... a different one finds no upload, nor does anything else
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(**request, MultipartUpload={"Parts": listed[:1]})
    assert code_of(exc) == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.abort_multipart_upload(**request)
    assert code_of(exc) == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.list_parts(**request)
    assert code_of(exc) == "NoSuchUpload"


def test_replacing_a_part_keeps_the_last_one(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="redo")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="redo", UploadId=upload_id, PartNumber=1, Body=b"old")
    etag = s3.upload_part(
        Bucket=bucket, Key="redo", UploadId=upload_id, PartNumber=1, Body=b"new!"
    )["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="redo", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, etag, 4)]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="redo",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="redo")["Body"].read() == b"new!"


def test_conditional_completion(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="cond", Body=b"first")
    upload_id, listed = upload_parts(s3, bucket, "cond", [b"second"])
    request = {
        "Bucket": bucket,
        "Key": "cond",
        "UploadId": upload_id,
        "MultipartUpload": {"Parts": listed},
    }
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(**request, IfNoneMatch="*")
    assert code_of(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(**request, IfMatch='"' + "0" * 32 + '"')
    assert code_of(exc) == "PreconditionFailed"
    current = s3.head_object(Bucket=bucket, Key="cond")["ETag"]
    s3.complete_multipart_upload(**request, IfMatch=current)
    assert s3.get_object(Bucket=bucket, Key="cond")["Body"].read() == b"second"
    upload_id, listed = upload_parts(s3, bucket, "cond-new", [b"x"])
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="cond-new",
        UploadId=upload_id,
        MultipartUpload={"Parts": listed},
        IfNoneMatch="*",
    )


def test_upload_part_copy_with_a_range(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    source = os.urandom(12 * MiB + 7)
    s3.put_object(Bucket=bucket, Key="copy-src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copy-dst")["UploadId"]
    listed = []
    ranges = [(0, PART - 1), (PART, 2 * PART - 1), (2 * PART, len(source) - 1)]
    for number, (first, last) in enumerate(ranges, start=1):
        result = s3.upload_part_copy(
            Bucket=bucket,
            Key="copy-dst",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": "copy-src"},
            CopySourceRange=f"bytes={first}-{last}",
        )
        etag = result["CopyPartResult"]["ETag"]
        assert etag == f'"{hashlib.md5(source[first : last + 1]).hexdigest()}"'
        listed.append({"PartNumber": number, "ETag": etag})
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="copy-dst",
            UploadId=upload_id,
            PartNumber=9,
            CopySource={"Bucket": bucket, "Key": "copy-src"},
            CopySourceRange=f"bytes=0-{len(source)}",
        )
    assert code_of(exc) == "InvalidRange"
    s3.complete_multipart_upload(
        Bucket=bucket, Key="copy-dst", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    assert s3.get_object(Bucket=bucket, Key="copy-dst")["Body"].read() == source
    # a part copied from a multipart object, across its segment boundary
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copy-dst2")["UploadId"]
    result = s3.upload_part_copy(
        Bucket=bucket,
        Key="copy-dst2",
        UploadId=upload_id,
        PartNumber=1,
        CopySource=f"{bucket}/copy-dst",
        CopySourceRange=f"bytes={PART - 10}-{PART + 9}",
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="copy-dst2",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": result["CopyPartResult"]["ETag"]}]},
    )
    assert (
        s3.get_object(Bucket=bucket, Key="copy-dst2")["Body"].read()
        == source[PART - 10 : PART + 10]
    )


def test_list_parts_pagination(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    upload_id, listed = upload_parts(s3, bucket, "many", [bytes([i]) * 10 for i in range(7)])
    seen = []
    marker = 0
    while True:
        page = s3.list_parts(
            Bucket=bucket, Key="many", UploadId=upload_id, MaxParts=3, PartNumberMarker=marker
        )
        seen += [(p["PartNumber"], p["ETag"]) for p in page["Parts"]]
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert seen == [(p["PartNumber"], p["ETag"]) for p in listed]
    paginated = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="many", UploadId=upload_id, PaginationConfig={"PageSize": 2}
    )
    assert [p["PartNumber"] for page in paginated for p in page["Parts"]] == list(range(1, 8))
    s3.abort_multipart_upload(Bucket=bucket, Key="many", UploadId=upload_id)


def test_list_multipart_uploads(s3) -> None:  # type: ignore[no-untyped-def]
    name = f"mpu-list-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    keys = ["a", "a", "b/1", "b/2", "c", "d/x/y"]
    ids = [s3.create_multipart_upload(Bucket=name, Key=k)["UploadId"] for k in keys]
    expected = sorted(zip(keys, ids, strict=True))
    paginated = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=name, PaginationConfig={"PageSize": 2}
    )
    got = [(u["Key"], u["UploadId"]) for page in paginated for u in page.get("Uploads", [])]
    assert got == expected
    top = s3.list_multipart_uploads(Bucket=name, Delimiter="/")
    assert [(u["Key"]) for u in top["Uploads"]] == ["a", "a", "c"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "d/"]
    under_b = s3.list_multipart_uploads(Bucket=name, Prefix="b/")
    assert [u["Key"] for u in under_b["Uploads"]] == ["b/1", "b/2"]
    after = s3.list_multipart_uploads(Bucket=name, KeyMarker="a")
    assert [u["Key"] for u in after["Uploads"]] == ["b/1", "b/2", "c", "d/x/y"]
    first_a = expected[0][1]
    after_id = s3.list_multipart_uploads(Bucket=name, KeyMarker="a", UploadIdMarker=first_a)
    assert after_id["Uploads"][0]["UploadId"] == expected[1][1]
    paged = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=name, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    entries = []
    for page in paged:
        entries += [u["Key"] for u in page.get("Uploads", [])]
        entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert entries == ["a", "a", "b/", "c", "d/"]
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert code_of(exc) == "BucketNotEmpty"
    for key, upload_id in zip(keys, ids, strict=True):
        s3.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
    s3.delete_bucket(Bucket=name)


def shard_set_files(cluster: LocalCluster, shard_set_id: str) -> list[Path]:
    return list((cluster.data_dir / "nodes").rglob(f"shards/*/{shard_set_id}.*"))


def shard_set_ids(cluster: LocalCluster) -> set[str]:
    return {p.name.split(".")[0] for p in (cluster.data_dir / "nodes").rglob("shards/*/*")}


def wait_until_gone(cluster: LocalCluster, shard_set_ids: set[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not any(shard_set_files(cluster, s) for s in shard_set_ids):
            return
        time.sleep(0.2)
    raise AssertionError(f"shards of {shard_set_ids} are still on the nodes")


def test_abort_and_replacement_reclaim_shards(s3, cluster: LocalCluster, bucket: str) -> None:  # type: ignore[no-untyped-def]
    before = shard_set_ids(cluster)
    upload_id, _ = upload_parts(s3, bucket, "aborted", [os.urandom(300_000), os.urandom(10)])
    parts = shard_set_ids(cluster) - before
    assert len(parts) == 2
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    wait_until_gone(cluster, parts)
    # parts a completion leaves out, and the multipart version a PUT replaces, go too
    before = shard_set_ids(cluster)
    upload_id, listed = upload_parts(s3, bucket, "left-out", [b"kept", b"dropped"])
    parts = shard_set_ids(cluster) - before
    s3.complete_multipart_upload(
        Bucket=bucket, Key="left-out", UploadId=upload_id, MultipartUpload={"Parts": listed[:1]}
    )
    time.sleep(0.5)
    remaining = {s for s in parts if shard_set_files(cluster, s)}
    assert len(remaining) == 1
    s3.put_object(Bucket=bucket, Key="left-out", Body=b"plain")
    wait_until_gone(cluster, parts)


def _crc(algorithm: str, data: bytes) -> bytes:
    width = 8 if algorithm == "crc64nvme" else 4
    return int(getattr(awscrt.checksums, algorithm)(data)).to_bytes(width, "big")


def _digest(algorithm: str, data: bytes) -> bytes:
    if algorithm.startswith("crc"):
        return _crc(algorithm, data)
    return hashlib.new(algorithm, data).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("algorithm", "checksum_type"),
    [
        ("crc32", "COMPOSITE"),
        ("crc32c", "FULL_OBJECT"),
        ("crc64nvme", "FULL_OBJECT"),
        ("sha256", "COMPOSITE"),
        ("sha1", "COMPOSITE"),
    ],
)
def test_multipart_checksums(s3, bucket: str, algorithm: str, checksum_type: str) -> None:  # type: ignore[no-untyped-def]
    key = f"sums-{algorithm}-{checksum_type}"
    parts = [os.urandom(PART), os.urandom(777)]
    name = algorithm.upper()
    created = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm=name, ChecksumType=checksum_type
    )
    assert created["ChecksumAlgorithm"] == name
    upload_id = created["UploadId"]
    listed = []
    part_sums = []
    for number, body in enumerate(parts, start=1):
        digest = _digest(algorithm, body)
        part_sums.append(digest)
        result = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=name,
        )
        assert result[f"Checksum{name}"] == _b64(digest)
        listed.append(
            {"PartNumber": number, "ETag": result["ETag"], f"Checksum{name}": _b64(digest)}
        )
    listed_parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p[f"Checksum{name}"] for p in listed_parts] == [_b64(d) for d in part_sums]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    if checksum_type == "FULL_OBJECT":
        expected = _b64(_crc(algorithm, b"".join(parts)))
    else:
        expected = f"{_b64(_digest(algorithm, b''.join(part_sums)))}-2"
    assert done[f"Checksum{name}"] == expected
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{name}"] == expected
    assert head.get("ChecksumType") == checksum_type
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)


def test_bad_checksum_pairs_are_refused(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(
            Bucket=bucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT"
        )
    assert code_of(exc) == "InvalidRequest"
