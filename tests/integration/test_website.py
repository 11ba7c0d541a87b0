"""Static website hosting against the shared real cluster: Put/Get/Delete
BucketWebsite with boto3, and the website endpoint (its own port) serving
index and error documents, folder and routing-rule redirects, path style and
bucket.<website domain> (docs/cdn-and-apps.md)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from cli.local_cluster import LocalCluster
from tests.integration.harness import WEBSITE_DOMAIN
from tests.integration.http_plain import Answer, request

pytestmark = pytest.mark.integration

SITE = {
    "IndexDocument": {"Suffix": "index.html"},
    "ErrorDocument": {"Key": "404.html"},
    "RoutingRules": [
        {
            "Condition": {"KeyPrefixEquals": "blog/"},
            "Redirect": {"ReplaceKeyPrefixWith": "news/", "HttpRedirectCode": "302"},
        },
        {
            "Condition": {"KeyPrefixEquals": "old/", "HttpErrorCodeReturnedEquals": "404"},
            "Redirect": {"HostName": "archive.example.com", "ReplaceKeyWith": "gone.html"},
        },
    ],
}


def web(cluster: LocalCluster, method: str, path: str, **headers: str) -> Answer:
    return request(cluster.layout.website_port, method, path, headers)


def public_policy(bucket: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def site(s3) -> str:  # type: ignore[no-untyped-def]
    bucket = f"www-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_policy(bucket))
    pages = {
        "index.html": b"<h1>home</h1>",
        "404.html": b"<h1>nothing here</h1>",
        "docs/index.html": b"<h1>docs</h1>",
        "news/post.html": b"<h1>post</h1>",
    }
    for key, body in pages.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=SITE)
    return bucket


def test_configuration_round_trip_and_errors(s3, site: str) -> None:  # type: ignore[no-untyped-def]
    got = s3.get_bucket_website(Bucket=site)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "404.html"}
    assert got["RoutingRules"] == SITE["RoutingRules"]
    with pytest.raises(ClientError) as bad:
        s3.put_bucket_website(
            Bucket=site, WebsiteConfiguration={"IndexDocument": {"Suffix": "a/b.html"}}
        )
    assert bad.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as both:
        s3.put_bucket_website(
            Bucket=site,
            WebsiteConfiguration={
                "IndexDocument": {"Suffix": "index.html"},
                "RedirectAllRequestsTo": {"HostName": "example.com"},
            },
        )
    assert both.value.response["Error"]["Code"] == "InvalidArgument"
    s3.delete_bucket_website(Bucket=site)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_website(Bucket=site)
    assert gone.value.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"


def test_index_error_documents_and_redirects(cluster: LocalCluster, site: str) -> None:
    home = web(cluster, "GET", f"/{site}/")
    assert home.status == 200 and home.body == b"<h1>home</h1>"
    assert home.header("Content-Type") == "text/html" and home.header("ETag")
    assert web(cluster, "GET", f"/{site}").body == b"<h1>home</h1>"
    etag = home.header("ETag")
    assert etag is not None
    assert web(cluster, "GET", f"/{site}/", **{"If-None-Match": etag}).status == 304
    assert web(cluster, "GET", f"/{site}/docs/").body == b"<h1>docs</h1>"
    folder = web(cluster, "GET", f"/{site}/docs")
    assert folder.status == 302 and folder.header("Location") == f"/{site}/docs/"
    missing = web(cluster, "GET", f"/{site}/nope.html")
    assert missing.status == 404 and missing.body == b"<h1>nothing here</h1>"
    assert web(cluster, "HEAD", f"/{site}/nope.html").status == 404
    moved = web(cluster, "GET", f"/{site}/blog/post.html")
    assert moved.status == 302
    assert moved.header("Location") == (
        f"http://127.0.0.1:{cluster.layout.website_port}/{site}/news/post.html"
    )
    assert web(cluster, "GET", f"/{site}/news/post.html").body == b"<h1>post</h1>"
    # Visitors cannot choose response headers (a Content-Type, say).
    chosen = web(cluster, "GET", f"/{site}/index.html?response-content-type=text/plain")
    assert chosen.status == 400 and b"InvalidRequest" in chosen.body
    # Any other query (a cache buster) is just part of the URL.
    assert web(cluster, "GET", f"/{site}/index.html?v=42").body == b"<h1>home</h1>"
    archived = web(cluster, "GET", f"/{site}/old/page.html")
    assert archived.status == 301
    assert archived.header("Location") == "http://archive.example.com/gone.html"


def test_virtual_host_names_the_bucket(cluster: LocalCluster, site: str) -> None:
    host = f"{site}.{WEBSITE_DOMAIN}:{cluster.layout.website_port}"
    assert web(cluster, "GET", "/", Host=host).body == b"<h1>home</h1>"
    folder = web(cluster, "GET", "/docs", Host=host)
    assert folder.status == 302 and folder.header("Location") == "/docs/"
    moved = web(cluster, "GET", "/blog/x", Host=host)
    assert moved.header("Location") == f"http://{host}/news/x"


def test_the_website_is_anonymous_and_read_only(cluster: LocalCluster, s3, site: str) -> None:  # type: ignore[no-untyped-def]
    for method in ("PUT", "DELETE", "POST"):
        refused = web(cluster, method, f"/{site}/index.html", **{"Content-Length": "0"})
        assert refused.status == 405 and b"MethodNotAllowed" in refused.body
    assert s3.get_object(Bucket=site, Key="index.html")["Body"].read() == b"<h1>home</h1>"
    # A private bucket with a website shows nothing, and no error document
    # (which is private too) ...
    private = f"www-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=private)
    s3.put_object(Bucket=private, Key="index.html", Body=b"secret")
    s3.put_object(Bucket=private, Key="public.html", Body=b"open", ACL="public-read")
    s3.put_bucket_website(
        Bucket=private,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "index.html"},
        },
    )
    denied = web(cluster, "GET", f"/{private}/")
    assert denied.status == 403 and b"secret" not in denied.body
    # ... a missing key there is 403 as well (anonymous readers learn nothing),
    assert web(cluster, "GET", f"/{private}/nothing.html").status == 403
    # ... and a public-read object is served.
    assert web(cluster, "GET", f"/{private}/public.html").body == b"open"
    # No website configuration, no bucket: 404.
    plain = f"www-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=plain)
    no_site = web(cluster, "GET", f"/{plain}/")
    assert no_site.status == 404 and b"NoSuchWebsiteConfiguration" in no_site.body
    assert web(cluster, "GET", f"/{plain}-none/").status == 404


def test_redirect_all_requests(cluster: LocalCluster, s3) -> None:  # type: ignore[no-untyped-def]
    bucket = f"www-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}
        },
    )
    moved = web(cluster, "GET", f"/{bucket}/a/b.html?x=1")
    assert moved.status == 301
    assert moved.header("Location") == "https://www.example.com/a/b.html?x=1"
