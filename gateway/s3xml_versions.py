"""The S3 XML documents of versioning and tagging: VersioningConfiguration
(request), ListVersionsResult, Tagging (request and response).

Built on gateway/s3xml.py's helpers, with the same invariants: rendered
documents are well-formed whatever text they carry; request bodies are parsed
only through defusedxml (s3xml._parse) and anything unexpected is
MalformedXML. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.s3xml import (
    _bool,
    _common_prefix,
    _document,
    _el,
    _Encode,
    _encoder,
    _local_name,
    _owner,
    _parse,
    _text,
    _wrap,
    iso8601_milliseconds,
)
from tessera import limits
from tessera.errors import InvalidTag, MalformedXML
from tessera.model import VERSIONING_STATUSES, VersionSummary
from tessera.storage_class import class_of
from tessera.tagging import check_tags


@dataclass(frozen=True)
class VersionsResult:
    """One ListObjectVersions answer."""

    bucket: str
    prefix: str
    key_marker: str
    version_id_marker: str
    max_keys: int
    is_truncated: bool
    versions: Sequence[tuple[VersionSummary, bool]] = ()  # (version or marker, is latest)
    common_prefixes: Sequence[str] = ()
    next_key_marker: str = ""
    next_version_id_marker: str = ""
    delimiter: str | None = None
    encoding_type: str | None = None
    owner_id: str = ""


def parse_versioning(body: bytes) -> str:
    """The Status of a VersioningConfiguration (Enabled or Suspended)."""
    root = _parse(body, "VersioningConfiguration")
    status = None
    for child in root:
        if _local_name(child) == "Status":
            status = (child.text or "").strip()
    if status not in VERSIONING_STATUSES:
        raise MalformedXML()
    return status


def render_list_versions(page: VersionsResult) -> bytes:
    enc = _encoder(page.encoding_type)
    parts = [
        _el("Name", page.bucket),
        _el("Prefix", enc(page.prefix)),
        _el("KeyMarker", enc(page.key_marker)),
        _el("VersionIdMarker", page.version_id_marker),
    ]
    if page.is_truncated:
        parts.append(_el("NextKeyMarker", enc(page.next_key_marker)))
        parts.append(_el("NextVersionIdMarker", page.next_version_id_marker))
    parts.append(_el("MaxKeys", str(page.max_keys)))
    if page.delimiter:
        parts.append(_el("Delimiter", enc(page.delimiter)))
    if page.encoding_type is not None:
        parts.append(_el("EncodingType", page.encoding_type))
    parts.append(_el("IsTruncated", _bool(page.is_truncated)))
    owner = _owner(page.owner_id, None)
    parts += [_version(version, latest, enc, owner) for version, latest in page.versions]
    parts += [_common_prefix(prefix, enc) for prefix in page.common_prefixes]
    return _document("ListVersionsResult", parts)


def _version(version: VersionSummary, latest: bool, enc: _Encode, owner: str) -> str:
    # one f-string per entry, as s3xml._contents: a page renders a thousand
    common = (
        f"<Key>{_text(enc(version.key))}</Key>"
        f"<VersionId>{_text(version.s3_version_id or 'null')}</VersionId>"
        f"<IsLatest>{_bool(latest)}</IsLatest>"
        f"<LastModified>{iso8601_milliseconds(version.last_modified)}</LastModified>"
    )
    if version.delete_marker:
        return f"<DeleteMarker>{common}{owner}</DeleteMarker>"
    etag = _text(f'"{version.etag}"')
    return (
        f"<Version>{common}<ETag>{etag}</ETag><Size>{version.size_bytes}</Size>"
        f"<StorageClass>{_text(class_of(version.system_metadata))}</StorageClass>"
        f"{owner}</Version>"
    )


def parse_tagging(body: bytes, tags_max: int = limits.TAGS_PER_OBJECT_MAX) -> dict[str, str]:
    """The TagSet of a Tagging document, checked against S3's limits (an
    object's by default; a bucket has its own tags_max)."""
    root = _parse(body, "Tagging")
    tags: dict[str, str] = {}
    count = 0
    for tag_set in root:
        if _local_name(tag_set) != "TagSet":
            raise MalformedXML()
        for tag in tag_set:
            if _local_name(tag) != "Tag":
                raise MalformedXML()
            fields = {_local_name(f): f.text or "" for f in tag}
            if "Key" not in fields:
                raise MalformedXML()
            tags[fields["Key"]] = fields.get("Value", "")
            count += 1
    if count != len(tags):
        raise InvalidTag("Cannot provide multiple Tags with the same key")
    check_tags(tags, tags_max)
    return tags


def render_tagging(tags: dict[str, str]) -> bytes:
    tag_parts = [
        _wrap("Tag", [_el("Key", key), _el("Value", value)]) for key, value in sorted(tags.items())
    ]
    return _document("Tagging", [_wrap("TagSet", tag_parts)])
