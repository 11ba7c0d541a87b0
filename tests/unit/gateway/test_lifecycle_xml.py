"""LifecycleConfiguration XML: every filter form and action, read and written back."""

from __future__ import annotations

import pytest

from gateway.lifecycle_xml import parse_lifecycle, render_lifecycle
from tessera import errors
from tessera.lifecycle import FORM_PREFIX, RuleFilter, check_rules

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def doc(*rules: str) -> bytes:
    return f"<LifecycleConfiguration {NS}>{''.join(rules)}</LifecycleConfiguration>".encode()


def test_every_form_round_trips() -> None:
    body = doc(
        "<Rule><ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>"
        "<Expiration><Days>3</Days></Expiration></Rule>",
        "<Rule><ID>b</ID><Filter><Tag><Key>t</Key><Value>1</Value></Tag></Filter>"
        "<Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>"
        "</Rule>",
        "<Rule><ID>c</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>x</Key><Value>y</Value></Tag>"
        "<Tag><Key>z</Key><Value></Value></Tag><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan>"
        "</And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration>"
        "<NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions>"
        "</NoncurrentVersionExpiration></Rule>",
        "<Rule><ID>d</ID><Prefix>tmp/</Prefix><Status>Enabled</Status>"
        "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload></Rule>",
        "<Rule><ID>e</ID><Filter></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration></Rule>",
    )
    rules = parse_lifecycle(body)
    check_rules(rules)
    assert rules[0].filter == RuleFilter(prefix="logs/") and rules[0].expiration_days == 3
    assert rules[1].filter.tags == (("t", "1"),) and not rules[1].enabled
    assert rules[1].expiration_date_seconds == 1893456000
    assert rules[2].filter == RuleFilter(
        prefix="p/", tags=(("x", "y"), ("z", "")), size_greater_than_bytes=5
    )
    assert (rules[2].noncurrent_days, rules[2].newer_noncurrent_versions) == (2, 3)
    assert rules[3].filter.form == FORM_PREFIX and rules[3].expired_object_delete_marker
    assert rules[3].abort_upload_days == 1
    assert rules[4].filter == RuleFilter()
    assert parse_lifecycle(render_lifecycle(rules)) == rules


def test_a_rule_without_id_gets_one() -> None:
    rules = parse_lifecycle(
        doc("<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>")
    )
    assert rules[0].rule_id


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        (
            "<Rule><Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>",
            "MalformedXML",
        ),
        (
            "<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>",
            "MalformedXML",
        ),
        (
            "<Rule><Prefix/><Filter/><Status>Enabled</Status><Expiration><Days>1</Days>"
            "</Expiration></Rule>",
            "MalformedXML",
        ),
        (
            "<Rule><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
            "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>",
            "MalformedXML",
        ),
        (
            "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration></Rule>",
            "MalformedXML",
        ),
        ("<Rule><Filter/><Status>Enabled</Status><Expiration></Expiration></Rule>", "MalformedXML"),
        (
            "<Rule><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T05:00:00Z</Date>"
            "</Expiration></Rule>",
            "InvalidArgument",
        ),
        (
            "<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days>"
            "<StorageClass>GLACIER</StorageClass></Transition></Rule>",
            "NotImplemented",
        ),
        ("<Rule><Filter/><Status>Enabled</Status><Bogus/></Rule>", "MalformedXML"),
        (
            "<Rule><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration>"
            "<NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
            "</Rule>",
            "MalformedXML",
        ),
    ],
)
def test_malformed_rules(rule: str, code: str) -> None:
    with pytest.raises(errors.TesseraError) as caught:
        parse_lifecycle(doc(rule))
    assert caught.value.code == code


def test_not_xml_and_wrong_root() -> None:
    with pytest.raises(errors.MalformedXML):
        parse_lifecycle(b"<nope")
    with pytest.raises(errors.MalformedXML):
        parse_lifecycle(b"<Tagging/>")
    with pytest.raises(errors.MalformedXML):
        parse_lifecycle(b'<!DOCTYPE x [<!ENTITY a "b">]><LifecycleConfiguration/>')
