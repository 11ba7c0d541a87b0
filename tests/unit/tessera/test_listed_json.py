"""listed() reads back the listed fields a stored version record was
written with, on msgspec's path and on the fallback: every record shape
tessera.model writes, records from before the versioning and system
metadata fields, and keys that are not valid UTF-8."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given
from hypothesis import strategies as st

from tessera.listed_json import Listed, listed
from tessera.model import ShardLocation, version_to_json
from tests.unit.versions import a_version

BASE = a_version(
    placement=tuple(ShardLocation(i, f"node-{i}") for i in range(6)),
    user_metadata={"x-amz-storage-class": "not this one"},
)

any_text = st.text(max_size=20)  # lone surrogates included: a key kept with surrogateescape


@given(
    key=any_text,
    etag=any_text,
    size=st.integers(min_value=0, max_value=5 << 40),
    seconds=st.floats(min_value=0, max_value=2e10) | st.integers(min_value=0, max_value=2**31),
    system_metadata=st.dictionaries(any_text, any_text, max_size=3),
    s3_version_id=st.sampled_from(["", "null", "v1"]),
    delete_marker=st.booleans(),
    shape=st.sampled_from(["current", "older", "null system metadata"]),
)
def test_listed_fields_are_what_was_written(
    key: str,
    etag: str,
    size: int,
    seconds: float,
    system_metadata: dict[str, str],
    s3_version_id: str,
    delete_marker: bool,
    shape: str,
) -> None:
    version = dataclasses.replace(
        BASE,
        key=key,
        etag=etag,
        size_bytes=size,
        last_modified=seconds,
        system_metadata=system_metadata,
        s3_version_id=s3_version_id,
        delete_marker=delete_marker,
    )
    raw = version_to_json(version)
    if shape != "current":
        stored = json.loads(raw)
        if shape == "older":  # a record from before these fields
            for name in ("system_metadata", "s3_version_id", "delete_marker"):
                del stored[name]
        else:
            stored["system_metadata"] = None
        raw = json.dumps(stored).encode()
    # What was written, with what the shape took away at the defaults a
    # record without those fields stands for.
    older = shape == "older"
    expected = Listed(
        key,
        version.version_id,
        etag,
        size,
        seconds,
        {} if shape != "current" else system_metadata,
        "" if older else s3_version_id,
        False if older else delete_marker,
    )
    got = listed(raw)
    assert got == expected
    assert type(got.size_bytes) is int and type(got.last_modified) is float


def test_a_key_that_is_not_utf8_takes_the_fallback_and_keeps_its_bytes() -> None:
    raw = version_to_json(dataclasses.replace(BASE, key="bad-\udcff-key"))
    assert listed(raw).key == "bad-\udcff-key"
