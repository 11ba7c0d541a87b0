"""The static website endpoint: a bucket's website (PutBucketWebsite) served
on its own listener, anonymous and read-only (docs/cdn-and-apps.md).

A request names its bucket by host (bucket.<website domain>) or as the first
path segment. RedirectAllRequestsTo and routing rules without an error-code
condition redirect before anything is read; a folder reads its index
document; "folder" without the slash is redirected to "folder/" when that
has an index document; an error (404, 403) first meets the rules with its
code, then the error document, served with the error's status.

Invariants: nothing here writes, and nothing is served that the S3 endpoint
would not serve to an anonymous GET (tessera/access.py decides, as there); a
missing key is 404 only where a grant would have let anyone read it had it
existed (else 403), so the website tells no more than anonymous GETs do.
Every request is answered (errors as a small HTML page), never dropped.
"""

from __future__ import annotations

import html
import logging
import time

from aiohttp import web

from gateway import metrics
from gateway.authorization import anyone_may_read
from gateway.deadline import Deadline
from gateway.handlers.objects import serve_version
from gateway.routing import bucket_from_host, split_request
from gateway.state import STATE, GatewayState
from gateway.validation import check_key
from tessera import caching, errors, ids, website
from tessera.model import BucketInfo, ObjectVersion

log = logging.getLogger(__name__)

_REASONS = {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


def build_website_app(s3_app: web.Application) -> web.Application:
    """The website application; it shares the S3 application's state
    (metadata client, cluster view, executor), which must be started first."""
    app = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _serve(request, s3_app[STATE])

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _serve(request: web.Request, state: GatewayState) -> web.StreamResponse:
    request_id = ids.new_request_id()
    started = time.monotonic()
    try:
        response = await _answer(request, state)
        code = str(response.status)
    except errors.TesseraError as exc:
        response = _error_page(exc, request_id, head=request.method == "HEAD")
        code = exc.code
    except Exception:
        log.exception("website request %s (%s %s) failed", request_id, request.method, request.path)
        internal = errors.InternalError()
        response = _error_page(internal, request_id, head=request.method == "HEAD")
        code = internal.code
    if not response.prepared:
        response.headers["x-amz-request-id"] = request_id
    metrics.REQUESTS.labels("WebsiteGet", code).inc()
    metrics.REQUEST_SECONDS.labels("WebsiteGet").observe(time.monotonic() - started)
    return response


def _error_page(error: errors.TesseraError, request_id: str, *, head: bool) -> web.Response:
    status = error.http_status
    title = f"{status} {_REASONS.get(status, 'Error')}"
    body = (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1><ul>"
        f"<li>Code: {html.escape(error.code)}</li>"
        f"<li>Message: {html.escape(error.message)}</li>"
        f"<li>RequestId: {request_id}</li></ul></body></html>\n"
    )
    return web.Response(
        status=status,
        body=None if head else body.encode(),
        content_type="text/html",
        headers={"Cache-Control": "no-store"} if status >= 500 else None,
    )


async def _answer(request: web.Request, state: GatewayState) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed()
    if any(name.startswith("response-") for name in request.query):
        # As for anonymous S3 reads: a visitor must not choose the Content-Type
        # (text/html on an uploaded .txt would be script on the site's origin).
        raise errors.InvalidRequest(
            "Request specific response headers cannot be used for anonymous GET requests."
        )
    deadline = Deadline(state.settings.request_timeout_seconds)
    domains = state.settings.website_domains
    bucket_name, key = split_request(request.host, request.raw_path, domains)
    path = request.raw_path.split("?", 1)[0]
    if bucket_from_host(request.host, domains) is None:
        path_prefix = "/" + path[1:].partition("/")[0]
        key_path = "/" + path[1:].partition("/")[2]
    else:
        path_prefix, key_path = "", path
    if not bucket_name:
        raise errors.NoSuchBucket()
    if key:
        check_key(key)
    bucket = await state.metadata.get_bucket(bucket_name, timeout=deadline.remaining())
    if not bucket.website:
        raise errors.NoSuchWebsiteConfiguration(BucketName=bucket_name)
    config = website.config_from_json(bucket.website)
    protocol = request.scheme
    if config.redirect_all_host:
        query = f"?{request.query_string}" if request.query_string else ""
        redirect = website.redirect_all(config, key_path + query, request_protocol=protocol)
        return _redirect(redirect)
    rule = website.matching_rule(config, key, None)
    if rule is not None:
        return _redirect(_rule_redirect(request, rule, key, path_prefix))
    status, version = await _public_version(state, bucket, website.index_key(config, key), deadline)
    if version is None and status == 404 and key and not key.endswith("/"):
        _, folder_index = await _public_version(
            state, bucket, f"{key}/{config.index_suffix}", deadline
        )
        if folder_index is not None:
            return _redirect(website.Redirect(f"{path_prefix}{key_path}/", 302))
    if version is not None:
        return await serve_version(
            request, state, version, _cache_headers(bucket, version), body=_body(request),
            deadline=deadline,
        )  # fmt: skip
    rule = website.matching_rule(config, key, status)
    if rule is not None:
        return _redirect(_rule_redirect(request, rule, key, path_prefix))
    if config.error_key:
        _, page = await _public_version(state, bucket, config.error_key, deadline)
        if page is not None:
            return await serve_version(
                request, state, page, _cache_headers(bucket, page), body=_body(request),
                deadline=deadline, status=status,
            )  # fmt: skip
    raise errors.NoSuchKey(Key=key) if status == 404 else errors.AccessDenied()


def _body(request: web.Request) -> bool:
    return request.method == "GET"


def _rule_redirect(
    request: web.Request, rule: website.RoutingRule, key: str, path_prefix: str
) -> website.Redirect:
    return website.rule_redirect(
        rule, key, request_protocol=request.scheme, request_host=request.host,
        path_prefix=path_prefix,
    )  # fmt: skip


def _redirect(redirect: website.Redirect) -> web.Response:
    return web.Response(status=redirect.status, headers={"Location": redirect.location})


def _cache_headers(bucket: BucketInfo, version: ObjectVersion) -> dict[str, str]:
    value = caching.cache_control(
        caching.CacheInputs(
            stored=version.system_metadata.get("cache-control", ""),
            bucket_default=bucket.cache_control,
            reader=caching.Reader.ANYONE,
            versioned_url=False,
        )
    )
    return {"Cache-Control": value} if value else {}


async def _public_version(
    state: GatewayState, bucket: BucketInfo, key: str, deadline: Deadline
) -> tuple[int, ObjectVersion | None]:
    """(200, version) when anyone may read bucket/key; else (404, None) when
    it is missing and a grant would let anyone read it, (403, None) otherwise."""
    grant_if_missing = anyone_may_read(bucket, key, "", versioned=False)
    try:
        version = await state.metadata.get_object(bucket.name, key, timeout=deadline.remaining())
    except errors.NoSuchKey:
        return (404 if grant_if_missing else 403), None
    if not anyone_may_read(bucket, key, version.acl, versioned=False):
        return 403, None
    return 200, version
