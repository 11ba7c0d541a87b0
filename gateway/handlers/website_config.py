"""Get/Put/DeleteBucketWebsite: a bucket's static website configuration
(docs/cdn-and-apps.md). Only the bucket's owner reads or changes it; it is
checked (tessera/website.py) before it is stored. The website itself is
served by gateway/website.py on its own listener.
"""

from __future__ import annotations

from aiohttp import web

from gateway import website_xml
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.handlers.access import read_body as read_small_body
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from tessera import errors, website


async def get_bucket_website(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    bucket = await authorized_bucket(request, state, route, access_key, deadline)
    if not bucket.website:
        raise errors.NoSuchWebsiteConfiguration(BucketName=route.bucket)
    return xml_response(website_xml.render_website(website.config_from_json(bucket.website)))


async def put_bucket_website(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    await authorized_bucket(request, state, route, access_key, deadline)
    config = website_xml.parse_website(await read_small_body(request))
    website.check_config(config)
    await state.metadata.set_bucket_access(
        route.bucket, "website", website.config_to_json(config), timeout=deadline.remaining()
    )
    return web.Response(status=200)


async def delete_bucket_website(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(
        route.bucket, "website", "", timeout=deadline.remaining()
    )
    return web.Response(status=204)
