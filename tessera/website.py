"""A bucket's static website configuration and what it decides: the index
document of a folder, redirects (all requests, or routing rules) and the
error document (docs/cdn-and-apps.md). Pure: no I/O.

Invariants: a stored configuration always passes check_config (it is checked
before it is logged, and config_from_json raises InvalidArgument for
anything else, so a bad log entry fails as an S3 outcome and never crashes
apply); a redirect's Location is built only from the request's own host and
path and from the bucket owner's rule.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from urllib.parse import quote

from tessera import errors

ROUTING_RULES_MAX = 50
REDIRECT_CODE_DEFAULT = "301"
PROTOCOLS = ("", "http", "https")


@dataclass(frozen=True)
class RoutingRule:
    """One RoutingRule: Condition (at least one of the two) and Redirect."""

    key_prefix_equals: str | None = None
    http_error_code_returned_equals: str | None = None
    host_name: str = ""
    protocol: str = ""
    replace_key_prefix_with: str | None = None
    replace_key_with: str | None = None
    http_redirect_code: str = ""


@dataclass(frozen=True)
class WebsiteConfig:
    index_suffix: str = ""  # IndexDocument/Suffix, e.g. "index.html"
    error_key: str = ""  # ErrorDocument/Key ("" for none)
    redirect_all_host: str = ""  # RedirectAllRequestsTo/HostName ("" for none)
    redirect_all_protocol: str = ""
    rules: tuple[RoutingRule, ...] = ()


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int


def check_config(config: WebsiteConfig) -> None:
    """S3's rules for a website configuration; InvalidArgument (or MalformedXML)."""
    if config.redirect_all_host:
        if config.index_suffix or config.error_key or config.rules:
            raise errors.InvalidArgument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing "
                "Rules, IndexDocument or ErrorDocument."
            )
        _check_protocol(config.redirect_all_protocol)
        return
    if not config.index_suffix:
        raise errors.InvalidArgument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty"
        )
    if "/" in config.index_suffix:
        raise errors.InvalidArgument("The IndexDocument Suffix is not well formed")
    if len(config.rules) > ROUTING_RULES_MAX:
        raise errors.InvalidArgument(f"A website has at most {ROUTING_RULES_MAX} routing rules.")
    for rule in config.rules:
        _check_rule(rule)


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise errors.InvalidArgument(f"Invalid protocol, protocol can be http or https: {protocol}")


def _check_rule(rule: RoutingRule) -> None:
    if rule.key_prefix_equals is None and rule.http_error_code_returned_equals is None:
        raise errors.InvalidArgument("Condition cannot be empty.")
    code = rule.http_error_code_returned_equals
    if code is not None and not (code.isdigit() and 400 <= int(code) <= 599):
        raise errors.InvalidArgument(f"The provided HTTP error code ({code}) is not valid.")
    if rule.replace_key_prefix_with is not None and rule.replace_key_with is not None:
        raise errors.InvalidArgument(
            "You can only define ReplaceKeyPrefix or ReplaceKey but not both."
        )
    redirect = rule.http_redirect_code
    if redirect and not (redirect.isdigit() and 300 <= int(redirect) <= 399):
        raise errors.InvalidArgument(f"The provided HTTP redirect code ({redirect}) is not valid.")
    _check_protocol(rule.protocol)


def config_to_json(config: WebsiteConfig) -> str:
    return json.dumps(asdict(config), separators=(",", ":"))


def config_from_json(text: str) -> WebsiteConfig:
    """The configuration of config_to_json's text, checked; InvalidArgument otherwise."""
    try:
        raw = json.loads(text)
        rules = tuple(RoutingRule(**r) for r in raw.pop("rules"))
        config = WebsiteConfig(**raw, rules=rules)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise errors.InvalidArgument("malformed website configuration") from exc
    check_config(config)
    return config


# ------------------------------------------------------------ deciding


def index_key(config: WebsiteConfig, key: str) -> str:
    """The key a website request for key reads: a folder ("" or ending in
    "/") reads its index document."""
    if key == "" or key.endswith("/"):
        return key + config.index_suffix
    return key


def _matches(rule: RoutingRule, key: str, error_code: int | None) -> bool:
    if rule.key_prefix_equals is not None and not key.startswith(rule.key_prefix_equals):
        return False
    if rule.http_error_code_returned_equals is None:
        return error_code is None
    return error_code is not None and int(rule.http_error_code_returned_equals) == error_code


def matching_rule(config: WebsiteConfig, key: str, error_code: int | None) -> RoutingRule | None:
    """The first rule for this request. Before the object is read
    (error_code None) only rules without an error-code condition apply; after
    an error, only rules whose code equals it (and whose prefix matches)."""
    for rule in config.rules:
        if _matches(rule, key, error_code):
            return rule
    return None


def rule_redirect(
    rule: RoutingRule, key: str, *, request_protocol: str, request_host: str, path_prefix: str
) -> Redirect:
    """Where rule sends a request for key. path_prefix is "/<bucket>" for a
    path-style website request (kept when the host stays), "" otherwise."""
    if rule.replace_key_with is not None:
        new_key = rule.replace_key_with
    elif rule.replace_key_prefix_with is not None:
        prefix = rule.key_prefix_equals or ""
        new_key = rule.replace_key_prefix_with + key[len(prefix) :]
    else:
        new_key = key
    protocol = rule.protocol or request_protocol
    host = rule.host_name or request_host
    prefix_path = "" if rule.host_name else path_prefix
    status = int(rule.http_redirect_code or REDIRECT_CODE_DEFAULT)
    location = f"{protocol}://{host}{prefix_path}/{quote(new_key, safe='/~')}"
    return Redirect(location, status)


def redirect_all(config: WebsiteConfig, raw_key_path: str, *, request_protocol: str) -> Redirect:
    """RedirectAllRequestsTo: the same path (and query) on the other host."""
    protocol = config.redirect_all_protocol or request_protocol
    return Redirect(f"{protocol}://{config.redirect_all_host}{raw_key_path}", 301)
