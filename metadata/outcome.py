"""The outcome of applying one mutation: its result, or the S3 error it met.

Outcomes are what callers of the log receive, and what the state keeps under
the mutation's request id so that a retried request gets the same answer.

Invariant: encode/decode round-trips exactly; unwrap() raises the same
TesseraError class (same code and message) that apply decided on.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from tessera import errors, fastjson
from tessera.model import (
    AccessKeyInfo,
    BucketInfo,
    CompletedUpload,
    KmsKeyInfo,
    MultipartUpload,
    NodeInfo,
    ObjectDeleted,
    ObjectVersion,
    PartsReleased,
    Segment,
    UserInfo,
    access_key_from_json,
    access_key_to_json,
    bucket_from_json,
    kms_key_from_json,
    kms_key_to_json,
    node_from_json,
    record_to_json,
    segment_from_dict,
    segment_to_dict,
    user_from_json,
    version_from_dict,
    version_to_dict,
)

Result = (
    BucketInfo
    | ObjectVersion
    | NodeInfo
    | MultipartUpload
    | Segment
    | CompletedUpload
    | PartsReleased
    | ObjectDeleted
    | UserInfo
    | AccessKeyInfo
    | KmsKeyInfo
    | None
)


@dataclass(frozen=True)
class Outcome:
    result: Result = None
    error_code: str = ""  # empty: success
    error_message: str = ""

    @classmethod
    def failed(cls, error: errors.TesseraError) -> Outcome:
        return cls(error_code=error.code, error_message=error.message)

    @property
    def ok(self) -> bool:
        return not self.error_code

    def unwrap(self) -> Result:
        """The result, or raises the recorded error."""
        if self.error_code:
            raise errors.from_code(self.error_code, self.error_message)
        return self.result


def encode(outcome: Outcome) -> bytes:
    body: dict[str, Any] = {"error": outcome.error_code, "message": outcome.error_message}
    result = outcome.result
    if isinstance(result, BucketInfo):
        body["bucket"] = json.loads(record_to_json(result))
    elif isinstance(result, ObjectVersion):
        body["version"] = version_to_dict(result)
    elif isinstance(result, NodeInfo):
        body["node"] = json.loads(record_to_json(result))
    elif isinstance(result, MultipartUpload):
        body["upload"] = dataclasses.asdict(result)
    elif isinstance(result, Segment):
        body["segment"] = segment_to_dict(result)
    elif isinstance(result, CompletedUpload):
        body["completed"] = {
            "version": version_to_dict(result.version),
            "replaced": None if result.replaced is None else version_to_dict(result.replaced),
            "unreferenced": [segment_to_dict(s) for s in result.unreferenced],
        }
    elif isinstance(result, ObjectDeleted):
        body["deleted"] = {
            "removed": None if result.removed is None else version_to_dict(result.removed),
            "marker": None if result.marker is None else version_to_dict(result.marker),
        }
    elif isinstance(result, PartsReleased):
        body["released"] = [segment_to_dict(s) for s in result.parts]
    elif isinstance(result, UserInfo):
        body["user"] = json.loads(record_to_json(result))
    elif isinstance(result, AccessKeyInfo):
        body["access_key"] = json.loads(access_key_to_json(result))
    elif isinstance(result, KmsKeyInfo):
        body["kms_key"] = json.loads(kms_key_to_json(result))
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes) -> Outcome:
    body = fastjson.loads(raw)
    result: Result = None
    if "bucket" in body:
        result = bucket_from_json(json.dumps(body["bucket"]).encode())
    elif "version" in body:
        result = version_from_dict(body["version"])
    elif "node" in body:
        result = node_from_json(json.dumps(body["node"]).encode())
    elif "upload" in body:
        result = MultipartUpload(**body["upload"])
    elif "segment" in body:
        result = segment_from_dict(body["segment"])
    elif "completed" in body:
        done = body["completed"]
        replaced = done["replaced"]
        result = CompletedUpload(
            version=version_from_dict(done["version"]),
            replaced=None if replaced is None else version_from_dict(replaced),
            unreferenced=tuple(segment_from_dict(s) for s in done["unreferenced"]),
        )
    elif "deleted" in body:
        removed, marker = body["deleted"]["removed"], body["deleted"]["marker"]
        result = ObjectDeleted(
            removed=None if removed is None else version_from_dict(removed),
            marker=None if marker is None else version_from_dict(marker),
        )
    elif "released" in body:
        result = PartsReleased(tuple(segment_from_dict(s) for s in body["released"]))
    elif "user" in body:
        result = user_from_json(json.dumps(body["user"]).encode())
    elif "access_key" in body:
        result = access_key_from_json(json.dumps(body["access_key"]).encode())
    elif "kms_key" in body:
        result = kms_key_from_json(json.dumps(body["kms_key"]).encode())
    return Outcome(result=result, error_code=body["error"], error_message=body["message"])
