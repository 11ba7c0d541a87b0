"""An object version record for tests that care about a few of its fields:
the others take plain defaults (a 16-byte inline-sized object, 4+2, no
placement)."""

from __future__ import annotations

from typing import Any

from tessera.model import ObjectVersion


def a_version(**fields: Any) -> ObjectVersion:
    values: dict[str, Any] = {
        "bucket": "b",
        "key": "k",
        "version_id": "v1",
        "size_bytes": 16,
        "etag": "45ed9cc2f92b77cd8b2f5bd59ff635f8",
        "content_type": "application/octet-stream",
        "last_modified": 1_790_000_000.455,
        "data_shards": 4,
        "parity_shards": 2,
        "chunk_size_bytes": 1 << 18,
        "placement": (),
    }
    values.update(fields)
    return ObjectVersion(**values)
