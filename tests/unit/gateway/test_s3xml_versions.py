"""Versioning and tagging documents: parsing untrusted bodies, rendering answers."""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

import pytest

from gateway import s3xml_versions
from gateway.s3xml_versions import VersionsResult
from tessera import errors
from tessera.model import ObjectVersion
from tessera.tagging import parse_header, to_header

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def a_version(key: str, s3_id: str, *, marker: bool = False) -> ObjectVersion:
    return ObjectVersion(
        bucket="b",
        key=key,
        version_id="0" * 26,
        size_bytes=0 if marker else 5,
        etag="" if marker else "abc",
        content_type="",
        last_modified=1_700_000_000.0,
        data_shards=0,
        parity_shards=0,
        chunk_size_bytes=0,
        placement=(),
        s3_version_id=s3_id,
        delete_marker=marker,
    )


@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_parse_versioning(status: str) -> None:
    body = (
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Status>{status}</Status></VersioningConfiguration>"
    ).encode()
    assert s3xml_versions.parse_versioning(body) == status


@pytest.mark.parametrize(
    "body",
    [
        b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
        b"<VersioningConfiguration/>",
        b"<Other><Status>Enabled</Status></Other>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><VersioningConfiguration/>',
    ],
)
def test_bad_versioning_bodies(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        s3xml_versions.parse_versioning(body)


def test_tagging_round_trip() -> None:
    tags = {"a": "1", "ключ": "", "x y": "<&>"}
    assert s3xml_versions.parse_tagging(s3xml_versions.render_tagging(tags)) == tags
    assert parse_header(to_header(tags)) == tags


@pytest.mark.parametrize(
    "tags",
    [
        {str(i): "" for i in range(11)},
        {"k" * 129: ""},
        {"": "v"},
        {"k": "v" * 257},
    ],
)
def test_tag_limits(tags: dict[str, str]) -> None:
    with pytest.raises(errors.InvalidTag):
        s3xml_versions.parse_tagging(s3xml_versions.render_tagging(tags))


def test_duplicate_tag_keys() -> None:
    with pytest.raises(errors.InvalidTag):
        parse_header("a=1&a=2")


def test_render_list_versions() -> None:
    page = VersionsResult(
        bucket="b",
        prefix="",
        key_marker="",
        version_id_marker="",
        max_keys=2,
        is_truncated=True,
        versions=[(a_version("k", "null", marker=True), True), (a_version("k", "v1"), False)],
        next_key_marker="k",
        next_version_id_marker="v1",
        owner_id="alice",
    )
    root = fromstring(s3xml_versions.render_list_versions(page))
    assert root.tag == f"{NS}ListVersionsResult"
    assert root.findtext(f"{NS}NextVersionIdMarker") == "v1"
    children = [c.tag.removeprefix(NS) for c in root if c.tag.endswith(("Version", "Marker"))]
    assert children[-2:] == ["DeleteMarker", "Version"]
    marker = root.find(f"{NS}DeleteMarker")
    assert marker is not None and marker.findtext(f"{NS}IsLatest") == "true"
    version = root.find(f"{NS}Version")
    assert version is not None and version.findtext(f"{NS}ETag") == '"abc"'
