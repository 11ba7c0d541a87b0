"""The outcome of applying one mutation: its result, or the S3 error it met.

Outcomes are what callers of the log receive, and what the state keeps under
the mutation's request id so that a retried request gets the same answer.

Invariant: encode/decode round-trips exactly; unwrap() raises the same
TesseraError class (same code and message) that apply decided on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tessera import errors
from tessera.model import (
    BucketInfo,
    NodeInfo,
    ObjectVersion,
    bucket_from_json,
    node_from_json,
    record_to_json,
    version_from_json,
    version_to_json,
)

Result = BucketInfo | ObjectVersion | NodeInfo | None


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
        body["version"] = json.loads(version_to_json(result))
    elif isinstance(result, NodeInfo):
        body["node"] = json.loads(record_to_json(result))
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes) -> Outcome:
    body = json.loads(raw)
    result: Result = None
    if "bucket" in body:
        result = bucket_from_json(json.dumps(body["bucket"]).encode())
    elif "version" in body:
        result = version_from_json(json.dumps(body["version"]).encode())
    elif "node" in body:
        result = node_from_json(json.dumps(body["node"]).encode())
    return Outcome(result=result, error_code=body["error"], error_message=body["message"])
