"""The XML of the access sub-resources: ACLs (?acl) and CORS rules (?cors).

Request bodies go through s3xml's defusedxml parser (DTDs forbidden). Only
canned ACLs exist here, so an AccessControlPolicy body is read as the canned
ACL it expresses (owner FULL_CONTROL, plus AllUsers READ for public-read);
any other grant is NotImplemented rather than silently dropped.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from tessera import errors
from tessera.access import CorsRule

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def render_acl(owner_id: str, acl: str) -> bytes:
    """AccessControlPolicy for a canned ACL."""
    owner = _wrap("Owner", [_el("ID", owner_id), _el("DisplayName", owner_id)])
    grants = [
        f'<Grant><Grantee xmlns:xsi="{_XSI}" xsi:type="CanonicalUser">'
        f"{_el('ID', owner_id)}{_el('DisplayName', owner_id)}</Grantee>"
        "<Permission>FULL_CONTROL</Permission></Grant>"
    ]
    if acl == "public-read":
        grants.append(
            f'<Grant><Grantee xmlns:xsi="{_XSI}" xsi:type="Group">{_el("URI", ALL_USERS)}'
            "</Grantee><Permission>READ</Permission></Grant>"
        )
    return _document("AccessControlPolicy", [owner, _wrap("AccessControlList", grants)])


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local_name(c) == name]


def _texts(element: Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in _children(element, name))


def parse_acl(body: bytes) -> str:
    """The canned ACL an AccessControlPolicy body expresses."""
    root = _parse(body, "AccessControlPolicy")
    public = False
    for acl_list in _children(root, "AccessControlList"):
        for grant in _children(acl_list, "Grant"):
            permission = "".join(_texts(grant, "Permission"))
            uris = [u for g in _children(grant, "Grantee") for u in _texts(g, "URI")]
            if uris == [ALL_USERS] and permission == "READ":
                public = True
            elif uris or permission != "FULL_CONTROL":
                raise errors.NotImplemented("Only the canned ACLs private and public-read exist.")
    return "public-read" if public else "private"


def parse_cors(body: bytes) -> list[CorsRule]:
    root = _parse(body, "CORSConfiguration")
    rules = []
    for rule in _children(root, "CORSRule"):
        max_age = _texts(rule, "MaxAgeSeconds")
        try:
            max_age_seconds = int(max_age[0]) if max_age else None
        except ValueError as exc:
            raise errors.MalformedXML() from exc
        rules.append(
            CorsRule(
                allowed_origins=_texts(rule, "AllowedOrigin"),
                allowed_methods=_texts(rule, "AllowedMethod"),
                allowed_headers=_texts(rule, "AllowedHeader"),
                expose_headers=_texts(rule, "ExposeHeader"),
                max_age_seconds=max_age_seconds,
            )
        )
    return rules


def render_cors(rules: list[CorsRule]) -> bytes:
    parts = []
    for r in rules:
        inner = [_el("AllowedOrigin", o) for o in r.allowed_origins]
        inner += [_el("AllowedMethod", m) for m in r.allowed_methods]
        inner += [_el("AllowedHeader", h) for h in r.allowed_headers]
        inner += [_el("ExposeHeader", h) for h in r.expose_headers]
        if r.max_age_seconds is not None:
            inner.append(_el("MaxAgeSeconds", str(r.max_age_seconds)))
        parts.append(_wrap("CORSRule", inner))
    return _document("CORSConfiguration", parts)
