"""WebsiteConfiguration XML (gateway/website_xml.py) and ?website routing."""

from __future__ import annotations

import pytest

from gateway.routing import operation_for
from gateway.website_xml import parse_website, render_website
from tessera import errors
from tessera.website import RoutingRule, WebsiteConfig

BODY = b"""<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <IndexDocument><Suffix>index.html</Suffix></IndexDocument>
  <ErrorDocument><Key>404.html</Key></ErrorDocument>
  <RoutingRules>
    <RoutingRule>
      <Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>
      <Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith>
        <HttpRedirectCode>302</HttpRedirectCode></Redirect>
    </RoutingRule>
    <RoutingRule>
      <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
      <Redirect><HostName>example.com</HostName><Protocol>https</Protocol>
        <ReplaceKeyWith></ReplaceKeyWith></Redirect>
    </RoutingRule>
  </RoutingRules>
</WebsiteConfiguration>"""


def test_parse_and_render_round_trip() -> None:
    config = parse_website(BODY)
    assert config == WebsiteConfig(
        index_suffix="index.html",
        error_key="404.html",
        rules=(
            RoutingRule(
                key_prefix_equals="old/", replace_key_prefix_with="new/", http_redirect_code="302"
            ),
            RoutingRule(
                http_error_code_returned_equals="404",
                host_name="example.com",
                protocol="https",
                replace_key_with="",
            ),
        ),
    )
    assert parse_website(render_website(config)) == config
    everything = WebsiteConfig(redirect_all_host="example.org", redirect_all_protocol="https")
    assert parse_website(render_website(everything)) == everything


@pytest.mark.parametrize(
    "body",
    [
        b"<WebsiteConfiguration><RedirectAllRequestsTo/></WebsiteConfiguration>",
        b"<WebsiteConfiguration><RoutingRules><RoutingRule><Condition/></RoutingRule>"
        b"</RoutingRules></WebsiteConfiguration>",
        b"<WebsiteConfiguration><IndexDocument><Suffix>a</Suffix><Suffix>b</Suffix>"
        b"</IndexDocument></WebsiteConfiguration>",
        b"<Other/>",
        b"not xml",
        b'<!DOCTYPE x [<!ENTITY e "e">]><WebsiteConfiguration/>',
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_website(body)


def test_website_operations_are_routed() -> None:
    for method, op in (("GET", "Get"), ("PUT", "Put"), ("DELETE", "Delete")):
        assert operation_for(method, "b", "", {"website": ""}) == f"{op}BucketWebsite"
    assert operation_for("POST", "b", "", {"website": ""}).startswith("Unsupported:")
