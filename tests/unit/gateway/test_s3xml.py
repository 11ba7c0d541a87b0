"""S3 XML rendering and parsing, read back by botocore's own response parser.

Every rendered document is parsed with botocore.parsers.RestXMLParser against
the s3 service model (and, for encoding-type=url, botocore's own decoding
handlers), so these tests check what boto3 will actually read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote_plus
from xml.etree.ElementTree import fromstring

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.handlers import (
    decode_list_object,
    decode_list_object_v2,
    parse_get_bucket_location,
)
from botocore.model import ServiceModel
from botocore.parsers import RestXMLParser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import s3xml
from gateway.s3xml import ListEntry, ListV1Result, ListV2Result
from tessera import errors

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"


@cache
def s3_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("s3")


def parse(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = s3_model().operation_model(operation).output_shape
    response = {"status_code": status, "headers": {}, "body": body}
    parsed: dict[str, Any] = RestXMLParser().parse(response, shape)
    return parsed


def parse_listing(operation: str, body: bytes) -> dict[str, Any]:
    """As boto3 reads it when it set encoding-type=url itself (its default)."""
    parsed = parse(operation, body)
    decode = decode_list_object_v2 if operation == "ListObjectsV2" else decode_list_object
    decode(parsed=parsed, context={"encoding_type_auto_set": True})
    return parsed


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def entry(key: str, seconds: float = 1_700_000_000.123, size: int = 42) -> ListEntry:
    return ListEntry(key=key, last_modified=seconds, etag="9b2cf535f27731c9", size=size)


# --- error document ------------------------------------------------------------------


def test_error_document_reads_back_in_botocore() -> None:
    body = s3xml.render_error(
        "NoSuchKey",
        "The specified key does not exist.",
        resource="/bucket/a <&> key",
        request_id="4442587FB7D0A2F9",
        extra={"Key": "a <&> key", "BucketName": "bucket"},
    )
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>')
    parsed = parse("GetObject", body, status=404)
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "a <&> key",
        "BucketName": "bucket",
        "Resource": "/bucket/a <&> key",
    }


def test_error_document_from_a_tessera_error() -> None:
    error = errors.AuthorizationHeaderMalformed("the region is wrong", Region="eu-west-1")
    body = s3xml.render_error(error.code, error.message, request_id="r1", extra=error.details)
    root = fromstring(body)
    assert root.tag == "Error"  # no namespace: botocore matches the bare tag
    assert [child.tag for child in root] == ["Code", "Message", "Region", "Resource", "RequestId"]
    assert root.findtext("Region") == "eu-west-1"


def test_error_document_survives_characters_xml_cannot_carry() -> None:
    nasty = "bad\x00\x01\x1b\ud800\uffff key\r\n"
    body = s3xml.render_error("NoSuchKey", nasty, resource=nasty, extra={"Key": nasty})
    parsed = parse("GetObject", body, status=404)
    assert parsed["Error"]["Key"] == "bad\ufffd\ufffd\ufffd\ufffd\ufffd key\r\n"


# --- ListBuckets --------------------------------------------------------------------------


def test_list_buckets() -> None:
    buckets = [("alpha", 1_600_000_000.5), ("beta-2", 0.0)]
    body = s3xml.render_list_buckets(owner_id=OWNER_ID, owner_name="me", buckets=buckets)
    assert fromstring(body).tag == f"{NS}ListAllMyBucketsResult"
    parsed = parse("ListBuckets", body)
    assert parsed["Owner"] == {"ID": OWNER_ID, "DisplayName": "me"}
    assert [b["Name"] for b in parsed["Buckets"]] == ["alpha", "beta-2"]
    assert parsed["Buckets"][0]["CreationDate"] == at(1_600_000_000.5)
    assert b"<CreationDate>2020-09-13T12:26:40.500Z</CreationDate>" in body
    assert b"<CreationDate>1970-01-01T00:00:00.000Z</CreationDate>" in body


def test_list_buckets_empty() -> None:
    parsed = parse(
        "ListBuckets", s3xml.render_list_buckets(owner_id="o", owner_name="o", buckets=[])
    )
    assert parsed.get("Buckets", []) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_255_369_830, "2009-10-12T17:50:30.000Z"),
        (1_255_369_830.0004, "2009-10-12T17:50:30.000Z"),
        (1_255_369_830.999, "2009-10-12T17:50:30.999Z"),
        (1_255_369_830.9996, "2009-10-12T17:50:31.000Z"),
    ],
)
def test_timestamps_have_milliseconds_and_z(seconds: float, text: str) -> None:
    assert s3xml.iso8601_milliseconds(seconds) == text


# --- GetBucketLocation, GetBucketVersioning ---------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@pytest.mark.parametrize(("region", "expected"), [("", None), ("eu-west-1", "eu-west-1")])
def test_location_reads_back_in_botocore(region: str, expected: str | None) -> None:
    body = s3xml.render_location(region)
    assert fromstring(body).tag == f"{NS}LocationConstraint"
    parsed: dict[str, Any] = {}
    # botocore reads GetBucketLocation with its own handler on the raw body.
    parse_get_bucket_location(parsed, AWSResponse("http://x/b?location", 200, {}, _Raw(body)))
    assert parsed.get("LocationConstraint") == expected


@pytest.mark.parametrize("status", [None, "Enabled", "Suspended"])
def test_versioning(status: str | None) -> None:
    parsed = parse("GetBucketVersioning", s3xml.render_versioning(status))
    assert parsed.get("Status") == status


# --- ListObjectsV2 ---------------------------------------------------------------------------


def test_list_objects_v2_full_page() -> None:
    page = ListV2Result(
        bucket="bucket",
        prefix="photos/",
        max_keys=2,
        is_truncated=True,
        entries=[
            entry("photos/a.jpg", size=10),
            ListEntry("photos/b.jpg", 5.0, "ab-2", 0),
        ],
        common_prefixes=["photos/2023/", "photos/2024/"],
        delimiter="/",
        continuation_token="Y29udGludWU=",
        next_continuation_token="bmV4dA==",
        start_after="photos/0",
    )
    body = s3xml.render_list_objects_v2(page)
    assert fromstring(body).tag == f"{NS}ListBucketResult"
    parsed = parse("ListObjectsV2", body)
    assert parsed["Name"] == "bucket"
    assert parsed["Prefix"] == "photos/"
    assert parsed["Delimiter"] == "/"
    assert parsed["MaxKeys"] == 2
    assert parsed["KeyCount"] == 4
    assert parsed["IsTruncated"] is True
    assert parsed["ContinuationToken"] == "Y29udGludWU="
    assert parsed["NextContinuationToken"] == "bmV4dA=="
    assert parsed["StartAfter"] == "photos/0"
    assert "EncodingType" not in parsed
    first, second = parsed["Contents"]
    assert first == {
        "Key": "photos/a.jpg",
        "LastModified": at(1_700_000_000.123),
        "ETag": '"9b2cf535f27731c9"',
        "Size": 10,
        "StorageClass": "STANDARD",
    }
    assert second["ETag"] == '"ab-2"'
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["photos/2023/", "photos/2024/"]


def test_list_objects_v2_fetch_owner() -> None:
    page = ListV2Result("b", "", 1000, False, entries=[entry("k")], owner_id=OWNER_ID)
    parsed = parse("ListObjectsV2", s3xml.render_list_objects_v2(page))
    assert parsed["Contents"][0]["Owner"] == {"ID": OWNER_ID, "DisplayName": OWNER_ID}


def test_list_objects_v2_minimal_page() -> None:
    body = s3xml.render_list_objects_v2(
        ListV2Result(bucket="b", prefix="", max_keys=1000, is_truncated=False)
    )
    parsed = parse("ListObjectsV2", body)
    assert parsed["KeyCount"] == 0 and parsed["IsTruncated"] is False
    for absent in ("Contents", "CommonPrefixes", "NextContinuationToken", "Delimiter"):
        assert absent not in parsed
    assert parsed["Prefix"] == ""


def test_list_objects_v2_next_token_only_when_truncated() -> None:
    page = ListV2Result("b", "", 1000, is_truncated=False, next_continuation_token="x")
    assert "NextContinuationToken" not in parse("ListObjectsV2", s3xml.render_list_objects_v2(page))


AWKWARD = [
    "a b",
    "plus+sign",
    "percent%2Fliteral",
    "amp&lt;<>\"'",
    "slash//runs/",
    "ünï/日本/😀",
    "ctrl\x01\x1f\x7f",
    "cr\rlf\ntab\t",
    "=?#~*",
]


def test_list_objects_v2_url_encoding_round_trips_through_boto3() -> None:
    page = ListV2Result(
        bucket="bucket",
        prefix="a b/",
        max_keys=1000,
        is_truncated=False,
        entries=[entry(key) for key in AWKWARD],
        common_prefixes=["a b/c+d/"],
        delimiter="/",
        start_after="a b/+",
        continuation_token="tok+en/=",
        encoding_type="url",
    )
    body = s3xml.render_list_objects_v2(page)
    assert b"\x01" not in body and b"<EncodingType>url</EncodingType>" in body
    parsed = parse_listing("ListObjectsV2", body)
    assert [c["Key"] for c in parsed["Contents"]] == AWKWARD
    assert parsed["Prefix"] == "a b/"
    assert parsed["Delimiter"] == "/"
    assert parsed["StartAfter"] == "a b/+"
    assert parsed["ContinuationToken"] == "tok+en/="  # opaque: never encoded
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["a b/c+d/"]


def test_list_objects_v2_without_encoding_keeps_documents_well_formed() -> None:
    page = ListV2Result("bucket", "", 1000, False, entries=[entry(k) for k in AWKWARD])
    keys = [
        c["Key"] for c in parse("ListObjectsV2", s3xml.render_list_objects_v2(page))["Contents"]
    ]
    assert keys[:6] == AWKWARD[:6]
    assert keys[6] == "ctrl\ufffd\ufffd\x7f"  # XML 1.0 cannot carry \x01 or \x1f
    assert keys[7] == "cr\rlf\ntab\t"  # CR survives as &#13;
    assert keys[8] == AWKWARD[8]


any_key = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(any_key, max_size=8), prefixes=st.lists(any_key, max_size=4), prefix=any_key)
def test_random_keys_round_trip_with_url_encoding(
    keys: list[str], prefixes: list[str], prefix: str
) -> None:
    page = ListV2Result(
        bucket="bucket",
        prefix=prefix,
        max_keys=1000,
        is_truncated=False,
        entries=[entry(k) for k in keys],
        common_prefixes=prefixes,
        start_after=prefix,
        encoding_type="url",
    )
    parsed = parse_listing("ListObjectsV2", s3xml.render_list_objects_v2(page))
    assert [c["Key"] for c in parsed.get("Contents", [])] == keys
    assert [p["Prefix"] for p in parsed.get("CommonPrefixes", [])] == prefixes
    assert parsed["Prefix"] == prefix and parsed["StartAfter"] == prefix


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=40))  # any str, lone surrogates included
def test_random_text_never_breaks_the_document(key: str) -> None:
    page = ListV2Result("bucket", key, 1000, False, entries=[entry(key or "k")])
    for body in (
        s3xml.render_list_objects_v2(page),
        s3xml.render_error("NoSuchKey", key, resource=key, extra={"Key": key}),
    ):
        fromstring(body)  # well-formed, whatever the text


# --- ListObjects (v1) -------------------------------------------------------------------------


def test_list_objects_v1_with_delimiter_has_next_marker() -> None:
    page = ListV1Result(
        bucket="bucket",
        prefix="p/",
        max_keys=2,
        is_truncated=True,
        entries=[ListEntry("p/a", 1.0, "e1", 1)],
        common_prefixes=["p/sub/"],
        delimiter="/",
        marker="p/0",
        next_marker="p/sub/",
        owner_id=OWNER_ID,
        owner_name="me",
    )
    parsed = parse("ListObjects", s3xml.render_list_objects_v1(page))
    assert parsed["Name"] == "bucket"
    assert parsed["Marker"] == "p/0"
    assert parsed["NextMarker"] == "p/sub/"
    assert parsed["IsTruncated"] is True
    assert parsed["MaxKeys"] == 2
    assert parsed["Contents"][0]["Owner"] == {"ID": OWNER_ID, "DisplayName": "me"}
    assert parsed["Contents"][0]["LastModified"] == at(1.0)
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["p/sub/"]


def test_list_objects_v1_without_delimiter_has_no_next_marker() -> None:
    page = ListV1Result("bucket", "", 1, True, entries=[entry("a")], next_marker="a")
    parsed = parse("ListObjects", s3xml.render_list_objects_v1(page))
    assert "NextMarker" not in parsed
    assert parsed["Marker"] == ""
    assert parsed["IsTruncated"] is True


def test_list_objects_v1_url_encoding_round_trips_through_boto3() -> None:
    page = ListV1Result(
        bucket="bucket",
        prefix="a b",
        max_keys=1000,
        is_truncated=True,
        entries=[entry(key) for key in AWKWARD],
        common_prefixes=["a b+/"],
        delimiter="+",
        marker="m a+r",
        next_marker="n e+x",
        encoding_type="url",
    )
    parsed = parse_listing("ListObjects", s3xml.render_list_objects_v1(page))
    assert [c["Key"] for c in parsed["Contents"]] == AWKWARD
    # S3 encodes Prefix in v1 too, but botocore's v1 handler does not decode
    # it (boto/boto3#3534): boto3 sees it encoded, exactly as against AWS.
    assert (parsed["Prefix"], parsed["Delimiter"]) == ("a+b", "+")
    assert (parsed["Marker"], parsed["NextMarker"]) == ("m a+r", "n e+x")
    assert parsed["CommonPrefixes"] == [{"Prefix": "a b+/"}]


# --- CreateBucketConfiguration ------------------------------------------------------------------


def botocore_create_bucket_body(params: dict[str, Any]) -> bytes:
    operation = s3_model().operation_model("CreateBucket")
    request = create_serializer("rest-xml").serialize_to_request(params, operation)
    body: bytes = request["body"]
    return body


def test_parses_the_body_botocore_sends() -> None:
    body = botocore_create_bucket_body(
        {"Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}
    )
    assert b"CreateBucketConfiguration" in body
    assert s3xml.parse_create_bucket_configuration(body) == "eu-west-1"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (b"  \n", None),
        (b"<CreateBucketConfiguration/>", None),
        (b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>", None),
        (
            b"<CreateBucketConfiguration><LocationConstraint> us-west-2 "
            b"</LocationConstraint></CreateBucketConfiguration>",
            "us-west-2",
        ),
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<CreateBucketConfiguration '
            b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>'
            b"ap-south-1</LocationConstraint></CreateBucketConfiguration>",
            "ap-south-1",
        ),
    ],
)
def test_create_bucket_configuration(body: bytes, expected: str | None) -> None:
    assert s3xml.parse_create_bucket_configuration(body) == expected


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<CreateBucketConfiguration><LocationConstraint>&lol2;</LocationConstraint></CreateBucketConfiguration>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CreateBucketConfiguration><LocationConstraint>&xxe;</LocationConstraint></CreateBucketConfiguration>"""


@pytest.mark.parametrize(
    "body",
    [
        b"<CreateBucketConfiguration>",
        b"not xml at all",
        b"<CreateBucketConfiguration></Other>",
        b"<Other><LocationConstraint>eu-west-1</LocationConstraint></Other>",
        b'<CreateBucketConfiguration xmlns="urn:other"/>',
        b"\xff\xfe<garbage",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.com/x.dtd"><CreateBucketConfiguration/>',
    ],
)
def test_bad_create_bucket_configuration_is_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        s3xml.parse_create_bucket_configuration(body)


def test_parse_complete_multipart_upload() -> None:
    body = (
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b'<Part><PartNumber>1</PartNumber><ETag>"aa"</ETag></Part>'
        b"<Part><ETag>bb</ETag><PartNumber>3</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32>"
        b"</Part></CompleteMultipartUpload>"
    )
    parts = s3xml.parse_complete_upload(body)
    assert [(p.part_number, p.etag, p.checksums) for p in parts] == [
        (1, "aa", {}),
        (3, "bb", {"crc32": "AAAAAA=="}),
    ]
    for bad in [
        b"<CompleteMultipartUpload/>",
        b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>x</ETag></Part>"
        b"</CompleteMultipartUpload>",
        b"<Other/>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><CompleteMultipartUpload/>',
    ]:
        with pytest.raises(errors.MalformedXML):
            s3xml.parse_complete_upload(bad)


def test_multipart_documents_are_well_formed() -> None:
    documents = [
        s3xml.render_initiate_upload("b", "k<&>", "u"),
        s3xml.render_complete_upload(
            "http://h/b/k", "b", "k", "e-2", {"crc32": "x-2", "type": "COMPOSITE"}
        ),
        s3xml.render_copy_part_result("e", 1.5, {"sha256": "y"}),
        s3xml.render_list_parts(
            s3xml.ListPartsResult(
                "b",
                "k",
                "u",
                "alice",
                0,
                2,
                True,
                [s3xml.PartEntry(1, 1.0, "e", 5, {})],
                "crc32",
                "COMPOSITE",
            )
        ),
        s3xml.render_list_uploads(
            s3xml.ListUploadsResult(
                "b", "", "", "", 10, False, [s3xml.UploadEntry("k", "u", "alice", 1.0)], ["p/"], "/"
            )
        ),
    ]
    for document in documents:
        fromstring(document)


@settings(max_examples=500, deadline=None)
@given(
    key=st.one_of(
        st.text(max_size=40),  # anything, lone surrogates included
        st.text(alphabet="AZaz09_.~/-+ %é", max_size=40),  # near the fast path's edge
    )
)
def test_url_encoding_takes_its_shortcut_only_where_nothing_changes(key: str) -> None:
    expected = quote_plus(key.encode("utf-8", "surrogateescape"), safe="/")
    assert s3xml._url_encode(key) == expected


entry_fields = st.tuples(
    st.one_of(st.text(max_size=12), st.from_regex(r"[a-z0-9/._-]{0,12}", fullmatch=True)),
    st.floats(min_value=0, max_value=4e9),
    st.text(max_size=8),
    st.integers(min_value=0, max_value=5 << 40),
    st.sampled_from(["STANDARD", "REDUCED_REDUNDANCY", "a&b"]),
)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(entry_fields, max_size=6),
    owner=st.sampled_from([None, "<Owner/>"]),
    url=st.booleans(),
)
def test_contents_taken_as_they_are_match_the_escaping_path(
    entries: list[s3xml.EntryFields], owner: str | None, url: bool
) -> None:
    # The shortcut (nothing on the page to escape or encode: values go in as
    # they are) writes what encoding and escaping each value would. An
    # encoder that is neither of the two named ones always takes the long way.
    enc = s3xml._url_encode if url else s3xml._as_is
    assert s3xml._contents(entries, enc, owner) == s3xml._contents(
        entries, lambda key: enc(key), owner
    )


def test_one_entry_that_needs_escaping_is_escaped_among_plain_ones() -> None:
    entries = [entry("plain/1"), entry("a&b<c>\r"), entry("plain/2")]
    page = ListV2Result("bucket", "", 1000, False, entries=entries)
    listed = parse("ListObjectsV2", s3xml.render_list_objects_v2(page))["Contents"]
    assert [c["Key"] for c in listed] == ["plain/1", "a&b<c>\r", "plain/2"]
    assert [c["ETag"] for c in listed] == ['"9b2cf535f27731c9"'] * 3


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(st.text(max_size=30), st.text(st.characters(max_codepoint=127))))
def test_the_quick_plain_check_agrees_with_the_escaping_rule(value: str) -> None:
    assert s3xml._plain(value) == (s3xml._NEEDS_ESCAPE.search(value) is None)
