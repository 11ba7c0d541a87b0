"""The workload a chaos run puts on the cluster: boto3 clients in threads,
recording every request (chaos/history.py).

Each worker owns a few keys (w<i>/k<j>) and PUTs new content to them (unique
bodies, SHA-256 recorded), GETs, DELETEs and LISTs its prefix; all workers
race If-None-Match: * PUTs on shared keys (cond/<second>); multipart uploads
run when the build supports them (probed once). boto3 retries are off, so
every recorded outcome is the cluster's answer to exactly one request.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chaos.history import (
    DELETE,
    FAIL,
    FINAL_GET,
    GET,
    LIST,
    MULTIPART,
    OK,
    PUT,
    PUT_IF_ABSENT,
    UNKNOWN,
    Record,
)

KiB = 1024
MiB = 1024 * KiB
MULTIPART_PART_BYTES = 5 * MiB


def s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=4,
        ),
    )


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _classify(exc: Exception, kind: str) -> tuple[str, str | None, str]:
    """(outcome, read value, error) for a failed request."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if kind in (GET, FINAL_GET) and code == "NoSuchKey":
            return OK, None, ""
        if 400 <= status < 500:
            return FAIL, None, code or str(status)
        return UNKNOWN, None, code or str(status)
    return UNKNOWN, None, type(exc).__name__


@dataclass
class Workload:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    seed: int
    workers: int = 4
    keys_per_worker: int = 6
    records: list[Record] = field(default_factory=list)
    conditional_enforced: bool = False
    multipart_supported: bool = False
    notes: list[str] = field(default_factory=list)
    t0: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def client(self) -> Any:
        return s3_client(self.endpoint, self.access_key, self.secret_key)

    def now(self) -> float:
        return time.monotonic() - self.t0

    # ------------------------------------------------------------ setup

    def prepare(self) -> None:
        """Creates the bucket and probes what this build supports."""
        s3 = self.client()
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="probe/conditional", Body=b"1")
        try:
            s3.put_object(Bucket=self.bucket, Key="probe/conditional", Body=b"2", IfNoneMatch="*")
            self.notes.append(
                "conditional PUT: If-None-Match: * on an existing key succeeded, so this build "
                "does not enforce it; conditional PUTs are left out of the workload"
            )
        except ClientError as exc:
            self.conditional_enforced = exc.response["Error"]["Code"] == "PreconditionFailed"
            if not self.conditional_enforced:
                self.notes.append(f"conditional PUT probe answered {exc.response['Error']}")
        s3.delete_object(Bucket=self.bucket, Key="probe/conditional")
        try:
            upload = s3.create_multipart_upload(Bucket=self.bucket, Key="probe/multipart")
            s3.abort_multipart_upload(
                Bucket=self.bucket, Key="probe/multipart", UploadId=upload["UploadId"]
            )
            self.multipart_supported = True
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            self.notes.append(
                f"multipart: CreateMultipartUpload answered {code}; multipart uploads are "
                "left out of the workload (not supported by this build)"
            )

    # ------------------------------------------------------------ running

    def start(self) -> None:
        self.t0 = time.monotonic()
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, args=(i,), daemon=True, name=f"chaos-w{i}")
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    def _record(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)

    def _timed(
        self, kind: str, key: str, worker: int, value: str | None, call: Callable[[], Any]
    ) -> Any:
        start = self.now()
        try:
            result = call()
        except (ClientError, BotoCoreError, OSError) as exc:
            outcome, read, error = _classify(exc, kind)
            self._record(
                Record(kind, key, start, self.now(), outcome, read if kind in (GET, FINAL_GET)
                       else value, worker, error)
            )  # fmt: skip
            return None
        if kind in (GET, FINAL_GET):
            value = result
        listed: tuple[str, ...] = tuple(result) if kind == LIST else ()
        self._record(Record(kind, key, start, self.now(), OK, value, worker, "", listed))
        return result

    def _body(self, rng: random.Random, tag: str) -> bytes:
        size = rng.randint(1 * MiB, 3 * MiB) if rng.random() < 0.08 else rng.randint(1, 64 * KiB)
        return tag.encode() + rng.randbytes(size)

    def _worker(self, index: int) -> None:
        rng = random.Random(f"{self.seed}:worker:{index}")
        s3 = self.client()
        n = 0
        while not self._stop.is_set():
            n += 1
            key = f"w{index}/k{rng.randrange(self.keys_per_worker)}"
            roll = rng.random()
            if roll < 0.35:
                body = self._body(rng, f"{index}:{n}:")
                self._timed(PUT, key, index, _sha(body),
                            lambda: s3.put_object(Bucket=self.bucket, Key=key, Body=body))  # noqa: B023  # fmt: skip
            elif roll < 0.65:
                self._timed(GET, key, index, None, lambda: self._get(s3, key))  # noqa: B023
            elif roll < 0.75:
                self._timed(DELETE, key, index, None,
                            lambda: s3.delete_object(Bucket=self.bucket, Key=key))  # noqa: B023  # fmt: skip
            elif roll < 0.83:
                prefix = f"w{index}/"
                self._timed(LIST, prefix, index, None, lambda: self._list(s3, prefix))  # noqa: B023
            elif roll < 0.95 and self.conditional_enforced:
                cond = f"cond/{int(self.now())}"
                body = f"{index}:{n}:cond".encode()
                self._timed(PUT_IF_ABSENT, cond, index, _sha(body), lambda: s3.put_object(
                    Bucket=self.bucket, Key=cond, Body=body, IfNoneMatch="*"))  # noqa: B023  # fmt: skip
            elif self.multipart_supported and rng.random() < 0.3:
                body = self._body(rng, f"{index}:{n}:mp:") + rng.randbytes(MULTIPART_PART_BYTES)
                self._timed(MULTIPART, key, index, _sha(body),
                            lambda: self._multipart(s3, key, body))  # noqa: B023  # fmt: skip
            time.sleep(rng.uniform(0, 0.02))

    def _get(self, s3: Any, key: str) -> str:
        return _sha(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def _list(self, s3: Any, prefix: str) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, **token)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _multipart(self, s3: Any, key: str, body: bytes) -> None:
        upload = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        parts = []
        for number, offset in enumerate(range(0, len(body), MULTIPART_PART_BYTES), start=1):
            piece = body[offset : offset + MULTIPART_PART_BYTES]
            etag = s3.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=piece
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
        )

    # ------------------------------------------------------------ special requests

    def big_put(self, key: str, size_bytes: int, worker: int = 99) -> None:
        """One large PUT (for a torn write: a node is killed while it streams)."""
        s3 = self.client()
        body = random.Random(f"{self.seed}:big:{key}").randbytes(size_bytes)
        self._timed(PUT, key, worker, _sha(body),
                    lambda: s3.put_object(Bucket=self.bucket, Key=key, Body=body))  # fmt: skip

    def final_reads(self) -> int:
        """Reads back every key ever written, recording FINAL_GETs; returns how many."""
        s3 = self.client()
        keys = sorted({r.key for r in self.records if r.kind not in (LIST, GET)})
        for key in keys:
            for _ in range(3):  # a read that fails tells nothing; try again
                self._timed(FINAL_GET, key, -1, None, lambda: self._get(s3, key))  # noqa: B023
                if self.records[-1].outcome == OK:
                    break
                time.sleep(1)
        return len(keys)
