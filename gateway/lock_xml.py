"""The XML of Object Lock (?object-lock, ?retention, ?legal-hold), ownership
controls (?ownershipControls) and PublicAccessBlock (?publicAccessBlock).

Request bodies go through s3xml's defusedxml parser (DTDs forbidden);
anything but the expected document is MalformedXML, a wrong value the S3
error tessera/object_lock.py or tessera/access.py decides.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from tessera import access, errors, object_lock
from tessera.object_lock import DefaultRetention, Lock


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local_name(c) == name), None)


def _text(element: Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None else (child.text or "").strip()


def _int(text: str | None) -> int:
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError as exc:
        raise errors.MalformedXML(f"{text!r} is not a whole number.") from exc


def parse_lock_configuration(body: bytes) -> DefaultRetention | None:
    """ObjectLockConfiguration: ObjectLockEnabled Enabled, and an optional
    Rule/DefaultRetention (Mode, Days or Years)."""
    root = _parse(body, "ObjectLockConfiguration")
    if _text(root, "ObjectLockEnabled") != "Enabled":
        raise errors.MalformedXML("ObjectLockEnabled must be Enabled.")
    rule = _child(root, "Rule")
    if rule is None:
        return None
    default = _child(rule, "DefaultRetention")
    if default is None:
        raise errors.MalformedXML("A Rule needs a DefaultRetention.")
    mode = _text(default, "Mode") or ""
    return object_lock.check_default_rule(
        mode, _int(_text(default, "Days")), _int(_text(default, "Years"))
    )


def render_lock_configuration(rule: DefaultRetention | None) -> bytes:
    parts = [_el("ObjectLockEnabled", "Enabled")]
    if rule is not None:
        period = _el("Days", str(rule.days)) if rule.days else _el("Years", str(rule.years))
        parts.append(_wrap("Rule", [_wrap("DefaultRetention", [_el("Mode", rule.mode), period])]))
    return _document("ObjectLockConfiguration", parts)


def parse_retention(body: bytes) -> tuple[str, float]:
    """Retention: (Mode, RetainUntilDate as unix seconds); ("", 0) for an
    empty Retention, which removes one (needs the governance bypass)."""
    root = _parse(body, "Retention")
    mode = _text(root, "Mode")
    until = _text(root, "RetainUntilDate")
    if mode is None and until is None:
        return "", 0.0
    if not mode or not until:
        raise errors.MalformedXML("A Retention has both Mode and RetainUntilDate.")
    return object_lock.check_mode(mode), object_lock.parse_date(until)


def render_retention(lock: Lock) -> bytes:
    parts = [
        _el("Mode", lock.mode),
        _el("RetainUntilDate", object_lock.format_date(lock.retain_until)),
    ]
    return _document("Retention", parts)


def parse_legal_hold(body: bytes) -> bool:
    status = _text(_parse(body, "LegalHold"), "Status")
    if status not in (object_lock.LEGAL_HOLD_ON, object_lock.LEGAL_HOLD_OFF):
        raise errors.MalformedXML("LegalHold Status is ON or OFF.")
    return status == object_lock.LEGAL_HOLD_ON


def render_legal_hold(on: bool) -> bytes:
    status = object_lock.LEGAL_HOLD_ON if on else object_lock.LEGAL_HOLD_OFF
    return _document("LegalHold", [_el("Status", status)])


def parse_ownership(body: bytes) -> str:
    root = _parse(body, "OwnershipControls")
    rules = [c for c in root if _local_name(c) == "Rule"]
    if len(rules) != 1:
        raise errors.MalformedXML("OwnershipControls has exactly one Rule.")
    return access.check_ownership(_text(rules[0], "ObjectOwnership") or "")


def render_ownership(rule: str) -> bytes:
    return _document("OwnershipControls", [_wrap("Rule", [_el("ObjectOwnership", rule)])])


def parse_public_access_block(body: bytes) -> access.PublicAccessBlock:
    root = _parse(body, "PublicAccessBlockConfiguration")
    flags = []
    for name in access.PUBLIC_ACCESS_FIELDS:
        value = (_text(root, name) or "false").lower()
        if value not in ("true", "false"):
            raise errors.MalformedXML(f"{name} is true or false.")
        flags.append(value == "true")
    return access.PublicAccessBlock(*flags)


def render_public_access_block(block: access.PublicAccessBlock) -> bytes:
    parts = [
        _el(name, "true" if flag else "false")
        for name, flag in zip(access.PUBLIC_ACCESS_FIELDS, block.as_tuple(), strict=True)
    ]
    return _document("PublicAccessBlockConfiguration", parts)
