"""Static website configurations and their decisions (tessera/website.py)."""

from __future__ import annotations

import pytest

from tessera import errors
from tessera.website import (
    Redirect,
    RoutingRule,
    WebsiteConfig,
    check_config,
    config_from_json,
    config_to_json,
    index_key,
    matching_rule,
    redirect_all,
    rule_redirect,
)

DOCS = RoutingRule(key_prefix_equals="docs/", replace_key_prefix_with="documents/")
GONE = RoutingRule(
    http_error_code_returned_equals="404", host_name="example.com", replace_key_with="gone.html"
)
SITE = WebsiteConfig(index_suffix="index.html", error_key="error.html", rules=(DOCS, GONE))


def test_json_round_trip_and_checks() -> None:
    assert config_from_json(config_to_json(SITE)) == SITE
    for bad in ("", "{}", "[]", '{"rules": 3}', '{"index_suffix": "a", "rules": [{"x": 1}]}'):
        with pytest.raises(errors.InvalidArgument):
            config_from_json(bad)


@pytest.mark.parametrize(
    "config",
    [
        WebsiteConfig(),
        WebsiteConfig(index_suffix="a/index.html"),
        WebsiteConfig(index_suffix="i", redirect_all_host="x.com"),
        WebsiteConfig(redirect_all_host="x.com", redirect_all_protocol="ftp"),
        WebsiteConfig(index_suffix="i", rules=(RoutingRule(),)),
        WebsiteConfig(
            index_suffix="i",
            rules=(RoutingRule("a", replace_key_with="b", replace_key_prefix_with="c"),),
        ),
        WebsiteConfig(index_suffix="i", rules=(RoutingRule(None, "200"),)),
        WebsiteConfig(index_suffix="i", rules=(RoutingRule("a", http_redirect_code="200"),)),
        WebsiteConfig(index_suffix="i", rules=(RoutingRule("a"),) * 51),
    ],
)  # fmt: skip
def test_bad_configurations_are_refused(config: WebsiteConfig) -> None:
    with pytest.raises(errors.InvalidArgument):
        check_config(config)


def test_folders_read_their_index_document() -> None:
    assert index_key(SITE, "") == "index.html"
    assert index_key(SITE, "blog/") == "blog/index.html"
    assert index_key(SITE, "blog/post.html") == "blog/post.html"


def test_rules_before_the_read_and_after_an_error() -> None:
    assert matching_rule(SITE, "docs/a.html", None) is DOCS
    assert matching_rule(SITE, "other", None) is None
    assert matching_rule(SITE, "other", 404) is GONE
    assert matching_rule(SITE, "other", 403) is None
    # A rule with both conditions needs both.
    both = RoutingRule(key_prefix_equals="img/", http_error_code_returned_equals="404")
    config = WebsiteConfig(index_suffix="i", rules=(both,))
    assert matching_rule(config, "img/x", None) is None
    assert matching_rule(config, "img/x", 404) is both
    assert matching_rule(config, "css/x", 404) is None


def test_redirect_locations() -> None:
    at = {"request_protocol": "http", "request_host": "site.test:9002"}
    assert rule_redirect(DOCS, "docs/a b.html", path_prefix="", **at) == Redirect(
        "http://site.test:9002/documents/a%20b.html", 301
    )
    assert rule_redirect(DOCS, "docs/a", path_prefix="/www", **at) == Redirect(
        "http://site.test:9002/www/documents/a", 301
    )
    # Another host: the path-style bucket prefix does not go along.
    assert rule_redirect(GONE, "x", path_prefix="/www", **at) == Redirect(
        "http://example.com/gone.html", 301
    )
    temporary = RoutingRule(key_prefix_equals="", protocol="https", http_redirect_code="302")
    assert rule_redirect(temporary, "k", path_prefix="", **at) == Redirect(
        "https://site.test:9002/k", 302
    )
    everything = WebsiteConfig(redirect_all_host="www.example.com", redirect_all_protocol="https")
    assert redirect_all(everything, "/a/b?x=1", request_protocol="http") == Redirect(
        "https://www.example.com/a/b?x=1", 301
    )
