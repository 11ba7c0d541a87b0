"""A listing page as the gateway reads it from metadata's answer: columns
(from a current replica) and one message per record (from a replica that
predates columns) give the same entries, and render the same document."""

from __future__ import annotations

import dataclasses

from gateway import s3xml
from gateway.handlers.listing import _page_from_pb
from proto import convert
from proto import tessera_pb2 as pb
from tessera.model import version_to_json
from tests.unit.versions import a_version

BASE = a_version(inline_data=b"x" * 16)

RECORDS = [
    version_to_json(dataclasses.replace(BASE, key="a/1", size_bytes=0)),
    version_to_json(
        dataclasses.replace(
            BASE,
            key="a/2 & <b>",
            last_modified=1_790_000_001.0,
            system_metadata={"x-amz-storage-class": "REDUCED_REDUNDANCY"},
        )
    ),
    version_to_json(dataclasses.replace(BASE, key="c", etag="0123-2", size_bytes=5 << 30)),
]


def _travelled(message: pb.ListObjectsResponse) -> pb.ListObjectsResponse:
    return pb.ListObjectsResponse.FromString(message.SerializeToString())


def test_columns_and_records_give_the_same_page() -> None:
    columns = _page_from_pb(
        _travelled(convert.summary_records_to_columns(RECORDS, ["d/"], True, "c"))
    )
    records = _page_from_pb(_travelled(convert.summary_records_to_pb(RECORDS, ["d/"], True, "c")))
    assert columns == records
    assert columns.entries == [
        s3xml.ListEntry("a/1", BASE.last_modified, BASE.etag, 0, "STANDARD"),
        s3xml.ListEntry("a/2 & <b>", 1_790_000_001.0, BASE.etag, 16, "REDUCED_REDUNDANCY"),
        s3xml.ListEntry("c", BASE.last_modified, "0123-2", 5 << 30, "STANDARD"),
    ]
    assert columns.common_prefixes == ["d/"]
    assert columns.is_truncated and columns.next_start_after == "c"


def test_an_empty_page_reads_the_same_either_way() -> None:
    for build in (convert.summary_records_to_columns, convert.summary_records_to_pb):
        page = _page_from_pb(_travelled(build([], [], False, "")))
        assert page.entries == [] and not page.is_truncated
