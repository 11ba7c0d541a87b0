"""Object Lock, ownership controls and PublicAccessBlock XML (gateway/lock_xml.py)."""

from __future__ import annotations

import pytest

from gateway import lock_xml
from tessera import access, errors, object_lock
from tessera.object_lock import DefaultRetention, Lock

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def test_lock_configuration_round_trip() -> None:
    for rule in (
        None,
        DefaultRetention("GOVERNANCE", days=3),
        DefaultRetention("COMPLIANCE", years=2),
    ):
        assert lock_xml.parse_lock_configuration(lock_xml.render_lock_configuration(rule)) == rule


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<ObjectLockConfiguration/>", errors.MalformedXML),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/>"
         b"</ObjectLockConfiguration>", errors.MalformedXML),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
         b"<DefaultRetention><Mode>GOVERNANCE</Mode><Days>x</Days></DefaultRetention></Rule>"
         b"</ObjectLockConfiguration>", errors.MalformedXML),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
         b"<DefaultRetention><Mode>GOVERNANCE</Mode><Days>-1</Days></DefaultRetention></Rule>"
         b"</ObjectLockConfiguration>", errors.InvalidArgument),
        (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
         b"<DefaultRetention><Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule>"
         b"</ObjectLockConfiguration>", errors.MalformedXML),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><ObjectLockConfiguration/>', errors.MalformedXML),
    ],
)  # fmt: skip
def test_bad_lock_configurations(body: bytes, error: type[errors.TesseraError]) -> None:
    with pytest.raises(error):
        lock_xml.parse_lock_configuration(body)


def test_retention_and_legal_hold() -> None:
    until = 1_900_000_000.25
    body = lock_xml.render_retention(Lock("COMPLIANCE", until))
    assert b"<RetainUntilDate>2030-03-17T17:46:40.250Z</RetainUntilDate>" in body
    assert lock_xml.parse_retention(body) == ("COMPLIANCE", until)
    assert lock_xml.parse_retention(f"<Retention {NS}/>".encode()) == ("", 0.0)
    with pytest.raises(errors.MalformedXML):
        lock_xml.parse_retention(b"<Retention><Mode>GOVERNANCE</Mode></Retention>")
    with pytest.raises(errors.InvalidArgument):
        lock_xml.parse_retention(
            b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>"
        )
    assert lock_xml.parse_legal_hold(lock_xml.render_legal_hold(True)) is True
    assert lock_xml.parse_legal_hold(lock_xml.render_legal_hold(False)) is False
    with pytest.raises(errors.MalformedXML):
        lock_xml.parse_legal_hold(b"<LegalHold><Status>MAYBE</Status></LegalHold>")


def test_dates_parse_as_boto3_sends_them() -> None:
    assert object_lock.parse_date("2030-03-17T17:46:40Z") == 1_900_000_000.0
    assert object_lock.parse_date("2030-03-17T17:46:40.250+00:00") == 1_900_000_000.25
    assert object_lock.parse_date("2030-03-17T18:46:40+01:00") == 1_900_000_000.0


def test_ownership_and_public_access_block() -> None:
    assert lock_xml.parse_ownership(lock_xml.render_ownership("ObjectWriter")) == "ObjectWriter"
    with pytest.raises(errors.MalformedXML):
        lock_xml.parse_ownership(b"<OwnershipControls></OwnershipControls>")
    block = access.PublicAccessBlock(True, False, False, True)
    body = lock_xml.render_public_access_block(block)
    assert lock_xml.parse_public_access_block(body) == block
    partial = (
        b"<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy>"
        b"</PublicAccessBlockConfiguration>"
    )
    assert lock_xml.parse_public_access_block(partial) == access.PublicAccessBlock(
        block_public_policy=True
    )
    with pytest.raises(errors.MalformedXML):
        lock_xml.parse_public_access_block(
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
            b"</PublicAccessBlockConfiguration>"
        )
