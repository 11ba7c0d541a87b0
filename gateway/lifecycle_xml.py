"""The XML of ?lifecycle: LifecycleConfiguration, read into tessera.lifecycle
rules and written back from them.

Request bodies go through s3xml's defusedxml parser (DTDs forbidden). The
shape is checked here (MalformedXML: unknown or repeated elements, a Filter
with more than one condition outside And, a number that is not one); the
values are checked by tessera.lifecycle.check_rules. Transitions need a
second storage class, which this store does not have: NotImplemented.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from tessera import errors, ids
from tessera.lifecycle import (
    FORM_FILTER,
    FORM_PREFIX,
    STATUS_DISABLED,
    STATUS_ENABLED,
    Rule,
    RuleFilter,
    format_date,
    parse_date,
)

_RULE_CHILDREN = {
    "ID",
    "Filter",
    "Prefix",
    "Status",
    "Expiration",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
}
_TRANSITIONS = {"Transition", "NoncurrentVersionTransition"}
_CONDITIONS = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def parse_lifecycle(body: bytes) -> list[Rule]:
    root = _parse(body, "LifecycleConfiguration")
    rules = []
    for child in root:
        if _local_name(child) != "Rule":
            raise errors.MalformedXML(f"Unexpected element {_local_name(child)}.")
        rules.append(_parse_rule(child))
    return rules


def _fields(element: Element, allowed: set[str]) -> dict[str, Element]:
    """The children of element by name; MalformedXML for an unknown or repeated one."""
    found: dict[str, Element] = {}
    for child in element:
        name = _local_name(child)
        if name in _TRANSITIONS:
            raise errors.NotImplemented("Transitions are not implemented: one storage class.")
        if name not in allowed or name in found:
            raise errors.MalformedXML(f"Unexpected element {name} in {_local_name(element)}.")
        found[name] = child
    return found


def _text(element: Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


def _int(element: Element | None) -> int | None:
    text = _text(element)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise errors.MalformedXML(f"{_local_name(element)} must be an integer.") from exc  # type: ignore[arg-type]


def _parse_rule(element: Element) -> Rule:
    fields = _fields(element, _RULE_CHILDREN)
    status = _text(fields.get("Status"))
    if status not in (STATUS_ENABLED, STATUS_DISABLED):
        raise errors.MalformedXML("Status must be Enabled or Disabled.")
    if ("Filter" in fields) == ("Prefix" in fields):
        raise errors.MalformedXML("A rule takes either a Filter or a Prefix.")
    if "Prefix" in fields:
        rule_filter = RuleFilter(prefix=_text(fields["Prefix"]) or "", form=FORM_PREFIX)
    else:
        rule_filter = _parse_filter(fields["Filter"])
    rule_id = _text(fields.get("ID")) or ids.new_request_id()
    days = date = None
    marker = False
    if "Expiration" in fields:
        expiration = _fields(fields["Expiration"], {"Days", "Date", "ExpiredObjectDeleteMarker"})
        if not expiration:
            raise errors.MalformedXML("Expiration needs Days, Date or ExpiredObjectDeleteMarker.")
        days = _int(expiration.get("Days"))
        date_text = _text(expiration.get("Date"))
        date = parse_date(date_text) if date_text is not None else None
        marker_text = _text(expiration.get("ExpiredObjectDeleteMarker"))
        if marker_text not in (None, "true", "false"):
            raise errors.MalformedXML("ExpiredObjectDeleteMarker must be true or false.")
        marker = marker_text == "true"
    noncurrent_days = newer = None
    if "NoncurrentVersionExpiration" in fields:
        noncurrent = _fields(
            fields["NoncurrentVersionExpiration"], {"NoncurrentDays", "NewerNoncurrentVersions"}
        )
        if "NoncurrentDays" not in noncurrent:
            raise errors.MalformedXML("NoncurrentVersionExpiration needs NoncurrentDays.")
        noncurrent_days = _int(noncurrent["NoncurrentDays"])
        newer = _int(noncurrent.get("NewerNoncurrentVersions"))
    abort_days = None
    if "AbortIncompleteMultipartUpload" in fields:
        abort = _fields(fields["AbortIncompleteMultipartUpload"], {"DaysAfterInitiation"})
        if "DaysAfterInitiation" not in abort:
            raise errors.MalformedXML("AbortIncompleteMultipartUpload needs DaysAfterInitiation.")
        abort_days = _int(abort["DaysAfterInitiation"])
    return Rule(
        rule_id=rule_id,
        enabled=status == STATUS_ENABLED,
        filter=rule_filter,
        expiration_days=days,
        expiration_date_seconds=date,
        expired_object_delete_marker=marker,
        noncurrent_days=noncurrent_days,
        newer_noncurrent_versions=newer,
        abort_upload_days=abort_days,
    )


def _parse_filter(element: Element) -> RuleFilter:
    children = list(element)
    if not children:
        return RuleFilter()
    if len(children) > 1:
        raise errors.MalformedXML("A Filter holds one condition; use And for several.")
    only = children[0]
    name = _local_name(only)
    if name == "And":
        conditions = list(only)
    elif name in _CONDITIONS:
        conditions = [only]
    else:
        raise errors.MalformedXML(f"Unexpected element {name} in Filter.")
    prefix = ""
    seen_prefix = False
    tags: list[tuple[str, str]] = []
    sizes: dict[str, int | None] = {}
    for condition in conditions:
        cname = _local_name(condition)
        repeated = cname in sizes or (cname == "Prefix" and seen_prefix)
        if cname not in _CONDITIONS or repeated:
            raise errors.MalformedXML(f"Unexpected element {cname} in And.")
        if cname == "Prefix":
            prefix = _text(condition) or ""
            seen_prefix = True
        elif cname == "Tag":
            tag = _fields(condition, {"Key", "Value"})
            if "Key" not in tag:
                raise errors.MalformedXML("A Tag needs a Key.")
            tags.append((_text(tag["Key"]) or "", _text(tag.get("Value")) or ""))
        else:
            sizes[cname] = _int(condition)
    return RuleFilter(
        prefix=prefix,
        tags=tuple(tags),
        size_greater_than_bytes=sizes.get("ObjectSizeGreaterThan"),
        size_less_than_bytes=sizes.get("ObjectSizeLessThan"),
        form=FORM_FILTER,
    )


def render_lifecycle(rules: list[Rule]) -> bytes:
    return _document("LifecycleConfiguration", [_render_rule(r) for r in rules])


def _render_rule(rule: Rule) -> str:
    parts = [_el("ID", rule.rule_id)]
    if rule.filter.form == FORM_PREFIX:
        parts.append(_el("Prefix", rule.filter.prefix))
    else:
        parts.append(_render_filter(rule.filter))
    parts.append(_el("Status", STATUS_ENABLED if rule.enabled else STATUS_DISABLED))
    expiration = []
    if rule.expiration_days is not None:
        expiration.append(_el("Days", str(rule.expiration_days)))
    if rule.expiration_date_seconds is not None:
        expiration.append(_el("Date", format_date(rule.expiration_date_seconds)))
    if rule.expired_object_delete_marker:
        expiration.append(_el("ExpiredObjectDeleteMarker", "true"))
    if expiration:
        parts.append(_wrap("Expiration", expiration))
    if rule.noncurrent_days is not None:
        noncurrent = [_el("NoncurrentDays", str(rule.noncurrent_days))]
        if rule.newer_noncurrent_versions is not None:
            noncurrent.append(_el("NewerNoncurrentVersions", str(rule.newer_noncurrent_versions)))
        parts.append(_wrap("NoncurrentVersionExpiration", noncurrent))
    if rule.abort_upload_days is not None:
        parts.append(
            _wrap(
                "AbortIncompleteMultipartUpload",
                [_el("DaysAfterInitiation", str(rule.abort_upload_days))],
            )
        )
    return _wrap("Rule", parts)


def _render_filter(f: RuleFilter) -> str:
    conditions = []
    if f.prefix:
        conditions.append(_el("Prefix", f.prefix))
    conditions += [_wrap("Tag", [_el("Key", k), _el("Value", v)]) for k, v in f.tags]
    if f.size_greater_than_bytes is not None:
        conditions.append(_el("ObjectSizeGreaterThan", str(f.size_greater_than_bytes)))
    if f.size_less_than_bytes is not None:
        conditions.append(_el("ObjectSizeLessThan", str(f.size_less_than_bytes)))
    if len(conditions) > 1:
        return _wrap("Filter", [_wrap("And", conditions)])
    if not conditions:
        conditions.append(_el("Prefix", ""))
    return _wrap("Filter", conditions)
