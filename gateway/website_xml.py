"""The XML of ?website: WebsiteConfiguration bodies, parsed (defusedxml, DTDs
forbidden, through s3xml) into tessera.website's model and rendered back.

Invariant: a parsed configuration is only what the body says; S3's rules on
it are checked by tessera.website.check_config, not here.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from tessera import errors
from tessera.website import RoutingRule, WebsiteConfig


def _child(element: Element, name: str) -> Element | None:
    found = [c for c in element if _local_name(c) == name]
    if len(found) > 1:
        raise errors.MalformedXML()
    return found[0] if found else None


def _text(element: Element | None, name: str) -> str | None:
    """The text of element's child name; None when there is no such child."""
    if element is None:
        return None
    child = _child(element, name)
    return None if child is None else (child.text or "").strip()


def _rule(element: Element) -> RoutingRule:
    condition = _child(element, "Condition")
    redirect = _child(element, "Redirect")
    if redirect is None:
        raise errors.MalformedXML()
    return RoutingRule(
        key_prefix_equals=_text(condition, "KeyPrefixEquals"),
        http_error_code_returned_equals=_text(condition, "HttpErrorCodeReturnedEquals"),
        host_name=_text(redirect, "HostName") or "",
        protocol=_text(redirect, "Protocol") or "",
        replace_key_prefix_with=_text(redirect, "ReplaceKeyPrefixWith"),
        replace_key_with=_text(redirect, "ReplaceKeyWith"),
        http_redirect_code=_text(redirect, "HttpRedirectCode") or "",
    )


def parse_website(body: bytes) -> WebsiteConfig:
    root = _parse(body, "WebsiteConfiguration")
    redirect_all = _child(root, "RedirectAllRequestsTo")
    rules_element = _child(root, "RoutingRules")
    rules: tuple[RoutingRule, ...] = ()
    if rules_element is not None:
        rules = tuple(_rule(r) for r in rules_element if _local_name(r) == "RoutingRule")
    if redirect_all is not None and not _text(redirect_all, "HostName"):
        raise errors.MalformedXML()
    return WebsiteConfig(
        index_suffix=_text(_child(root, "IndexDocument"), "Suffix") or "",
        error_key=_text(_child(root, "ErrorDocument"), "Key") or "",
        redirect_all_host=_text(redirect_all, "HostName") or "",
        redirect_all_protocol=_text(redirect_all, "Protocol") or "",
        rules=rules,
    )


def _render_rule(rule: RoutingRule) -> str:
    condition = []
    if rule.key_prefix_equals is not None:
        condition.append(_el("KeyPrefixEquals", rule.key_prefix_equals))
    if rule.http_error_code_returned_equals is not None:
        condition.append(_el("HttpErrorCodeReturnedEquals", rule.http_error_code_returned_equals))
    redirect = []
    for name, value in (
        ("HostName", rule.host_name),
        ("HttpRedirectCode", rule.http_redirect_code),
        ("Protocol", rule.protocol),
    ):
        if value:
            redirect.append(_el(name, value))
    if rule.replace_key_prefix_with is not None:
        redirect.append(_el("ReplaceKeyPrefixWith", rule.replace_key_prefix_with))
    if rule.replace_key_with is not None:
        redirect.append(_el("ReplaceKeyWith", rule.replace_key_with))
    return _wrap("RoutingRule", [_wrap("Condition", condition), _wrap("Redirect", redirect)])


def render_website(config: WebsiteConfig) -> bytes:
    parts = []
    if config.redirect_all_host:
        inner = [_el("HostName", config.redirect_all_host)]
        if config.redirect_all_protocol:
            inner.append(_el("Protocol", config.redirect_all_protocol))
        parts.append(_wrap("RedirectAllRequestsTo", inner))
    if config.index_suffix:
        parts.append(_wrap("IndexDocument", [_el("Suffix", config.index_suffix)]))
    if config.error_key:
        parts.append(_wrap("ErrorDocument", [_el("Key", config.error_key)]))
    if config.rules:
        parts.append(_wrap("RoutingRules", [_render_rule(r) for r in config.rules]))
    return _document("WebsiteConfiguration", parts)
