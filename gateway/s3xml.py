"""The S3 XML wire format: rendering responses, parsing request bodies.

Owns the documents the gateway exchanges with S3 clients: the error document,
ListAllMyBucketsResult (ListBuckets), ListBucketResult for ListObjectsV2 and
for ListObjects (v1), LocationConstraint, VersioningConfiguration, the multipart
documents (InitiateMultipartUploadResult, CompleteMultipartUploadResult,
CopyPartResult, ListPartsResult, ListMultipartUploadsResult), and the
CreateBucketConfiguration and CompleteMultipartUpload request bodies. Render
functions take plain values (the small dataclasses below) and return the whole
document as UTF-8 bytes with its XML prolog.

Invariants:
- every rendered document is well-formed XML 1.0, whatever the text it
  carries: characters XML 1.0 cannot hold (most C0 controls, lone surrogates,
  U+FFFE/U+FFFF) are replaced by U+FFFD, and CR is written as '&#13;' so a
  parser reads it back as CR. A client that needs such keys exactly asks for
  encoding-type=url, which percent-encodes them;
- request bodies are parsed only through defusedxml with DTDs forbidden (no
  entity expansion, no external references); anything that is not the
  expected well-formed document raises MalformedXML.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote_plus
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from tessera.errors import MalformedXML
from tessera.multipart import ListedPart

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n'
STORAGE_CLASS_STANDARD = "STANDARD"

_Encode = Callable[[str], str]


# --- inputs -----------------------------------------------------------------


class ListEntry(NamedTuple):
    """One object in a listing (a tuple: a page makes a thousand of them)."""

    key: str
    last_modified: float  # Unix seconds, as in tessera.model
    etag: str  # without quotes, as stored ("<hex md5>" or "<hex>-<parts>")
    size: int  # bytes
    storage_class: str = STORAGE_CLASS_STANDARD


# A ListEntry's fields as a plain tuple: what a listing page zips from
# metadata's columns (gateway/handlers/listing.py) without a ListEntry each.
EntryFields = tuple[str, float, str, int, str]


@dataclass(frozen=True)
class ListV2Result:
    """One ListObjectsV2 answer; KeyCount is derived (entries + common prefixes).

    owner_id set renders each entry's Owner (the request said fetch-owner=true);
    owner_name is its DisplayName, the id when None.
    """

    bucket: str
    prefix: str
    max_keys: int
    is_truncated: bool
    entries: Sequence[EntryFields] = ()  # ListEntry or its fields
    common_prefixes: Sequence[str] = ()
    delimiter: str | None = None  # None or "" means none was given
    continuation_token: str | None = None  # echoed when the request carried one
    next_continuation_token: str | None = None  # rendered only when truncated
    start_after: str | None = None  # echoed when the request carried one
    encoding_type: str | None = None  # "url" or None
    owner_id: str | None = None
    owner_name: str | None = None


@dataclass(frozen=True)
class ListV1Result:
    """One ListObjects (v1) answer.

    next_marker is rendered only when the page is truncated and a delimiter was
    given, as S3 does; without a delimiter clients continue from the last key.
    owner_id set renders each entry's Owner (S3 v1 always does).
    """

    bucket: str
    prefix: str
    max_keys: int
    is_truncated: bool
    entries: Sequence[EntryFields] = ()  # ListEntry or its fields
    common_prefixes: Sequence[str] = ()
    delimiter: str | None = None
    marker: str = ""
    next_marker: str | None = None
    encoding_type: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None


# --- rendering ----------------------------------------------------------------

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
_ERROR_FIXED_FIELDS = frozenset({"Code", "Message", "Resource", "RequestId", "HostId"})


def render_error(
    code: str,
    message: str,
    *,
    resource: str = "",
    request_id: str = "",
    host_id: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """The S3 error document; extra adds fields such as BucketName or Key.

    S3 error documents carry no namespace, and botocore recognises them by
    the bare <Error> root.
    """
    parts = [_el("Code", code), _el("Message", message)]
    for name, value in (extra or {}).items():
        assert _XML_NAME.fullmatch(name), f"not an XML element name: {name!r}"
        assert name not in _ERROR_FIXED_FIELDS, f"reserved error field: {name}"
        parts.append(_el(name, value))
    parts += [_el("Resource", resource), _el("RequestId", request_id)]
    if host_id is not None:
        parts.append(_el("HostId", host_id))
    return _document("Error", parts, namespaced=False)


def render_list_buckets(
    *, owner_id: str, owner_name: str, buckets: Iterable[tuple[str, float]]
) -> bytes:
    """ListAllMyBucketsResult; buckets are (name, created Unix seconds), in the order given."""
    bucket_parts = [
        _wrap("Bucket", [_el("Name", name), _el("CreationDate", iso8601_milliseconds(created))])
        for name, created in buckets
    ]
    return _document(
        "ListAllMyBucketsResult", [_owner(owner_id, owner_name), _wrap("Buckets", bucket_parts)]
    )


def render_location(region: str) -> bytes:
    """GetBucketLocation's LocationConstraint ("" for us-east-1, as S3 answers)."""
    return _document("LocationConstraint", [_text(region)])


def render_versioning(status: str | None) -> bytes:
    """GetBucketVersioning: no Status element for a bucket never versioned."""
    assert status in (None, "Enabled", "Suspended"), status
    return _document("VersioningConfiguration", [] if status is None else [_el("Status", status)])


def render_list_objects_v2(page: ListV2Result) -> bytes:
    """ListBucketResult for ListObjectsV2.

    With encoding_type "url", Key, Prefix, Delimiter, StartAfter and each common
    prefix are URL-encoded (the fields botocore decodes); continuation tokens
    are opaque and never encoded.
    """
    enc = _encoder(page.encoding_type)
    parts = [_el("Name", page.bucket), _el("Prefix", enc(page.prefix))]
    if page.continuation_token is not None:
        parts.append(_el("ContinuationToken", page.continuation_token))
    if page.is_truncated and page.next_continuation_token is not None:
        parts.append(_el("NextContinuationToken", page.next_continuation_token))
    if page.start_after is not None:
        parts.append(_el("StartAfter", enc(page.start_after)))
    parts.append(_el("KeyCount", str(len(page.entries) + len(page.common_prefixes))))
    parts.append(_el("MaxKeys", str(page.max_keys)))
    if page.delimiter:
        parts.append(_el("Delimiter", enc(page.delimiter)))
    if page.encoding_type is not None:
        parts.append(_el("EncodingType", page.encoding_type))
    parts.append(_el("IsTruncated", _bool(page.is_truncated)))
    owner = None if page.owner_id is None else _owner(page.owner_id, page.owner_name)
    parts += _contents(page.entries, enc, owner)
    parts += [_common_prefix(prefix, enc) for prefix in page.common_prefixes]
    return _document("ListBucketResult", parts)


def render_list_objects_v1(page: ListV1Result) -> bytes:
    """ListBucketResult for ListObjects (v1).

    With encoding_type "url", Key, Prefix, Delimiter, Marker, NextMarker and each
    common prefix are URL-encoded.
    """
    enc = _encoder(page.encoding_type)
    parts = [
        _el("Name", page.bucket),
        _el("Prefix", enc(page.prefix)),
        _el("Marker", enc(page.marker)),
    ]
    if page.is_truncated and page.delimiter and page.next_marker is not None:
        parts.append(_el("NextMarker", enc(page.next_marker)))
    parts.append(_el("MaxKeys", str(page.max_keys)))
    if page.delimiter:
        parts.append(_el("Delimiter", enc(page.delimiter)))
    if page.encoding_type is not None:
        parts.append(_el("EncodingType", page.encoding_type))
    parts.append(_el("IsTruncated", _bool(page.is_truncated)))
    owner = None if page.owner_id is None else _owner(page.owner_id, page.owner_name)
    parts += _contents(page.entries, enc, owner)
    parts += [_common_prefix(prefix, enc) for prefix in page.common_prefixes]
    return _document("ListBucketResult", parts)


def iso8601_milliseconds(seconds: float) -> str:
    """Unix seconds as S3 writes timestamps in XML (2009-10-12T17:50:30.000Z), to the ms."""
    whole_seconds, ms = divmod(round(seconds * 1000), 1000)
    return _iso8601_seconds(whole_seconds) + _MILLISECONDS_Z[ms]


_MILLISECONDS_Z = [f".{ms:03d}Z" for ms in range(1000)]  # a timestamp's tail, by its ms


@functools.lru_cache(maxsize=4096)
def _iso8601_seconds(whole_seconds: int) -> str:
    # cached: the entries of a listing page were mostly written in a few seconds
    return f"{datetime.fromtimestamp(whole_seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}"


# --- parsing ------------------------------------------------------------------


def parse_create_bucket_configuration(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucket body; None when absent or empty.

    An empty (or all-whitespace) body is valid and means "no configuration".
    """
    if not body.strip():
        return None
    root = _parse(body, "CreateBucketConfiguration")
    for child in root:
        if _local_name(child) == "LocationConstraint":
            text = (child.text or "").strip()
            return text or None
    return None


def render_copy_result(etag: str, last_modified: float) -> bytes:
    """CopyObjectResult: the new version's quoted ETag and Last-Modified."""
    return _document(
        "CopyObjectResult",
        [_el("LastModified", iso8601_milliseconds(last_modified)), _el("ETag", f'"{etag}"')],
    )


def render_post_response(location: str, bucket: str, key: str, etag: str) -> bytes:
    """PostResponse, for a form upload with success_action_status 201."""
    return _document(
        "PostResponse",
        [
            _el("Location", location),
            _el("Bucket", bucket),
            _el("Key", key),
            _el("ETag", f'"{etag}"'),
        ],
        namespaced=False,
    )


DELETE_OBJECTS_MAX = 1000


@dataclass(frozen=True)
class DeleteRequest:
    keys: list[tuple[str, str | None]]  # (key, version id)
    quiet: bool


def parse_delete_objects(body: bytes) -> DeleteRequest:
    """The Delete document of DeleteObjects (at most 1000 keys, as S3 allows)."""
    root = _parse(body, "Delete")
    keys: list[tuple[str, str | None]] = []
    quiet = False
    for child in root:
        name = _local_name(child)
        if name == "Quiet":
            quiet = (child.text or "").strip().lower() == "true"
        elif name == "Object":
            key = version = None
            for part in child:
                if _local_name(part) == "Key":
                    key = part.text or ""
                elif _local_name(part) == "VersionId":
                    version = (part.text or "").strip() or None
            if key is None:
                raise MalformedXML()
            keys.append((key, version))
    if not keys or len(keys) > DELETE_OBJECTS_MAX:
        raise MalformedXML()
    return DeleteRequest(keys=keys, quiet=quiet)


@dataclass(frozen=True)
class DeletedEntry:
    """One Deleted element: the version id asked for, and the delete marker
    removed (by id) or added (marker_version_id), as S3 reports them."""

    key: str
    version_id: str = ""
    delete_marker: bool = False
    marker_version_id: str = ""


def render_delete_result(
    deleted: Iterable[str | DeletedEntry], failed: Iterable[tuple[str, str, str]]
) -> bytes:
    """DeleteResult: Deleted entries, and Error entries of (key, code, message)."""
    parts = [_deleted(DeletedEntry(d) if isinstance(d, str) else d) for d in deleted]
    parts += [
        _wrap("Error", [_el("Key", key), _el("Code", code), _el("Message", message)])
        for key, code, message in failed
    ]
    return _document("DeleteResult", parts)


def _deleted(entry: DeletedEntry) -> str:
    parts = [_el("Key", entry.key)]
    if entry.version_id:
        parts.append(_el("VersionId", entry.version_id))
    if entry.delete_marker:
        parts.append(_el("DeleteMarker", "true"))
    if entry.marker_version_id:
        parts.append(_el("DeleteMarkerVersionId", entry.marker_version_id))
    return _wrap("Deleted", parts)


# --- multipart ----------------------------------------------------------------

COMPLETE_PARTS_MAX = 10_000


def checksum_element(algorithm: str) -> str:
    """The XML element of an S3 checksum algorithm (crc32 -> ChecksumCRC32)."""
    return "Checksum" + algorithm.upper()


def _checksum_parts(checksums: Mapping[str, str]) -> list[str]:
    return [_el(checksum_element(a), v) for a, v in sorted(checksums.items())]


def render_initiate_upload(bucket: str, key: str, upload_id: str) -> bytes:
    return _document(
        "InitiateMultipartUploadResult",
        [_el("Bucket", bucket), _el("Key", key), _el("UploadId", upload_id)],
    )


def parse_complete_upload(body: bytes) -> list[ListedPart]:
    """The parts a CompleteMultipartUpload body lists, in the order listed."""
    root = _parse(body, "CompleteMultipartUpload")
    parts: list[ListedPart] = []
    for child in root:
        if _local_name(child) != "Part":
            continue
        number: int | None = None
        etag: str | None = None
        checksums: dict[str, str] = {}
        for field_el in child:
            name = _local_name(field_el)
            text = (field_el.text or "").strip()
            if name == "PartNumber":
                if not text.isdigit():
                    raise MalformedXML()
                number = int(text)
            elif name == "ETag":
                etag = text.strip('"')
            elif name.startswith("Checksum") and text:
                checksums[name[len("Checksum") :].lower()] = text
        if number is None or etag is None:
            raise MalformedXML()
        parts.append(ListedPart(number, etag, checksums))
    if not parts or len(parts) > COMPLETE_PARTS_MAX:
        raise MalformedXML()
    return parts


def render_complete_upload(
    location: str, bucket: str, key: str, etag: str, checksums: Mapping[str, str]
) -> bytes:
    """CompleteMultipartUploadResult; checksums: algorithm -> value, and
    "type" -> COMPOSITE / FULL_OBJECT when the object has one."""
    parts = [_el("Location", location), _el("Bucket", bucket), _el("Key", key)]
    parts.append(_el("ETag", f'"{etag}"'))
    parts += _checksum_parts({a: v for a, v in checksums.items() if a != "type"})
    if "type" in checksums:
        parts.append(_el("ChecksumType", checksums["type"]))
    return _document("CompleteMultipartUploadResult", parts)


def render_copy_part_result(etag: str, last_modified: float, checksums: Mapping[str, str]) -> bytes:
    parts = [_el("LastModified", iso8601_milliseconds(last_modified)), _el("ETag", f'"{etag}"')]
    return _document("CopyPartResult", parts + _checksum_parts(checksums))


@dataclass(frozen=True)
class PartEntry:
    part_number: int
    last_modified: float
    etag: str  # without quotes
    size: int
    checksums: Mapping[str, str]


@dataclass(frozen=True)
class ListPartsResult:
    bucket: str
    key: str
    upload_id: str
    owner_id: str
    part_number_marker: int
    max_parts: int
    is_truncated: bool
    parts: Sequence[PartEntry]
    checksum_algorithm: str = ""
    checksum_type: str = ""
    storage_class: str = STORAGE_CLASS_STANDARD  # the upload's


def render_list_parts(page: ListPartsResult) -> bytes:
    parts = [
        _el("Bucket", page.bucket),
        _el("Key", page.key),
        _el("UploadId", page.upload_id),
        _owner_as("Initiator", page.owner_id),
        _owner(page.owner_id, None),
        _el("StorageClass", page.storage_class),
        _el("PartNumberMarker", str(page.part_number_marker)),
    ]
    if page.parts:
        parts.append(_el("NextPartNumberMarker", str(page.parts[-1].part_number)))
    parts += [_el("MaxParts", str(page.max_parts)), _el("IsTruncated", _bool(page.is_truncated))]
    if page.checksum_algorithm:
        parts.append(_el("ChecksumAlgorithm", page.checksum_algorithm.upper()))
        parts.append(_el("ChecksumType", page.checksum_type))
    for p in page.parts:
        fields = [
            _el("PartNumber", str(p.part_number)),
            _el("LastModified", iso8601_milliseconds(p.last_modified)),
            _el("ETag", f'"{p.etag}"'),
            _el("Size", str(p.size)),
        ]
        parts.append(_wrap("Part", fields + _checksum_parts(p.checksums)))
    return _document("ListPartsResult", parts)


@dataclass(frozen=True)
class UploadEntry:
    key: str
    upload_id: str
    owner_id: str
    initiated: float
    checksum_algorithm: str = ""
    checksum_type: str = ""
    storage_class: str = STORAGE_CLASS_STANDARD


@dataclass(frozen=True)
class ListUploadsResult:
    bucket: str
    prefix: str
    key_marker: str
    upload_id_marker: str
    max_uploads: int
    is_truncated: bool
    uploads: Sequence[UploadEntry] = ()
    common_prefixes: Sequence[str] = ()
    delimiter: str | None = None
    next_key_marker: str = ""
    next_upload_id_marker: str = ""
    encoding_type: str | None = None


def render_list_uploads(page: ListUploadsResult) -> bytes:
    """ListMultipartUploadsResult; with encoding_type "url", Key, Prefix,
    Delimiter, KeyMarker, NextKeyMarker and common prefixes are URL-encoded."""
    enc = _encoder(page.encoding_type)
    parts = [
        _el("Bucket", page.bucket),
        _el("KeyMarker", enc(page.key_marker)),
        _el("UploadIdMarker", page.upload_id_marker),
        _el("NextKeyMarker", enc(page.next_key_marker)),
        _el("NextUploadIdMarker", page.next_upload_id_marker),
        _el("Prefix", enc(page.prefix)),
    ]
    if page.delimiter:
        parts.append(_el("Delimiter", enc(page.delimiter)))
    parts.append(_el("MaxUploads", str(page.max_uploads)))
    if page.encoding_type is not None:
        parts.append(_el("EncodingType", page.encoding_type))
    parts.append(_el("IsTruncated", _bool(page.is_truncated)))
    for u in page.uploads:
        fields = [
            _el("Key", enc(u.key)),
            _el("UploadId", u.upload_id),
            _owner_as("Initiator", u.owner_id),
            _owner(u.owner_id, None),
            _el("StorageClass", u.storage_class),
            _el("Initiated", iso8601_milliseconds(u.initiated)),
        ]
        if u.checksum_algorithm:
            fields.append(_el("ChecksumAlgorithm", u.checksum_algorithm.upper()))
            fields.append(_el("ChecksumType", u.checksum_type))
        parts.append(_wrap("Upload", fields))
    parts += [_common_prefix(prefix, enc) for prefix in page.common_prefixes]
    return _document("ListMultipartUploadsResult", parts)


# --- helpers ------------------------------------------------------------------

# Characters XML 1.0 cannot carry (Char production of the XML 1.0 spec).
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Anything _text would change: markup, \r, or a character XML cannot carry.
_NEEDS_ESCAPE = re.compile("[&<>\r]|[^\t\n\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _plain(value: str) -> bool:
    """Whether _text leaves value as it is. Printable ASCII without markup is
    decided by str's own scans (a tenth of the regex's time on a page of
    keys); anything else by the regex."""
    if value.isascii() and value.isprintable():
        return "&" not in value and "<" not in value and ">" not in value
    return _NEEDS_ESCAPE.search(value) is None


def _text(value: str) -> str:
    """Text safe inside an element: invalid characters replaced, markup escaped."""
    if _plain(value):
        return value  # most keys and values: one scan, no copies
    return escape(_NOT_XML_CHAR.sub("\ufffd", value), {"\r": "&#13;"})


def _el(name: str, value: str) -> str:
    return f"<{name}>{_text(value)}</{name}>"


def _wrap(name: str, parts: Iterable[str]) -> str:
    return f"<{name}>{''.join(parts)}</{name}>"


def _document(root: str, parts: Iterable[str], *, namespaced: bool = True) -> bytes:
    open_tag = f'<{root} xmlns="{S3_XMLNS}">' if namespaced else f"<{root}>"
    return f"{XML_PROLOG}{open_tag}{''.join(parts)}</{root}>".encode()


def _owner(owner_id: str, owner_name: str | None) -> str:
    name = owner_id if owner_name is None else owner_name
    return _wrap("Owner", [_el("ID", owner_id), _el("DisplayName", name)])


def _owner_as(element: str, owner_id: str) -> str:
    return _wrap(element, [_el("ID", owner_id), _el("DisplayName", owner_id)])


def _contents(entries: Sequence[EntryFields], enc: _Encode, owner: str | None) -> list[str]:
    """A Contents element per entry: one f-string each, in one comprehension
    (a listing page renders a thousand). When every key, ETag and class goes
    in as it is (_as_they_are: one scan of the page; the usual case) none
    passes through enc and _text; otherwise each does. The ETag's quotes are
    not markup: only the value between them is escaped."""
    owner_xml = owner or ""
    when = iso8601_milliseconds
    if _as_they_are(entries, enc):
        return [
            f"<Contents><Key>{key}</Key><LastModified>{when(seconds)}</LastModified>"
            f'<ETag>"{etag}"</ETag><Size>{size}</Size>{owner_xml}'
            f"<StorageClass>{storage_class}</StorageClass></Contents>"
            for key, seconds, etag, size, storage_class in entries
        ]
    text = _text
    return [
        f"<Contents><Key>{text(enc(key))}</Key><LastModified>{when(seconds)}</LastModified>"
        f'<ETag>"{text(etag)}"</ETag><Size>{size}</Size>{owner_xml}'
        f"<StorageClass>{text(storage_class)}</StorageClass></Contents>"
        for key, seconds, etag, size, storage_class in entries
    ]


def _as_they_are(entries: Sequence[EntryFields], enc: _Encode) -> bool:
    """Whether enc and _text would leave every key, ETag and storage class of
    the page as it is. With encoding-type=url a key is left as it is when it
    holds only characters form encoding keeps, none of which XML escapes."""
    keys = "".join([e[0] for e in entries])
    if enc is _as_is:
        plain_keys = _plain(keys)
    else:
        plain_keys = enc is _url_encode and _URL_UNCHANGED.fullmatch(keys) is not None
    return plain_keys and _plain("".join([e[2] + e[4] for e in entries]))


def _common_prefix(prefix: str, enc: _Encode) -> str:
    return _wrap("CommonPrefixes", [_el("Prefix", enc(prefix))])


# What form encoding leaves as it is (quote_plus's always-safe set, and '/').
_URL_UNCHANGED = re.compile("[A-Za-z0-9_.~/-]*")


def _url_encode(value: str) -> str:
    """encoding-type=url as S3 applies it: form encoding (space as '+'), '/' kept.

    surrogateescape: a key that is not valid UTF-8 keeps its exact bytes. Most
    keys have nothing to encode: one regex match returns them as they are
    (quote_plus costs ~2 µs a key, and boto3 asks for this on every listing).
    """
    if _URL_UNCHANGED.fullmatch(value):
        return value
    return quote_plus(value.encode("utf-8", "surrogateescape"), safe="/")


def _as_is(value: str) -> str:
    return value


def _encoder(encoding_type: str | None) -> _Encode:
    assert encoding_type in (None, "url"), f"unsupported encoding-type: {encoding_type!r}"
    return _as_is if encoding_type is None else _url_encode


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _local_name(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def _parse(body: bytes, expected_root: str) -> Element:
    """Parses an untrusted body with defusedxml; the root must be expected_root."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedXML() from exc
    namespace, _, name = root.tag.rpartition("}")
    if name != expected_root or namespace not in ("", "{" + S3_XMLNS):
        raise MalformedXML()
    return root
