"""Bucket settings kept as one field of the bucket record each — policy, CORS,
lifecycle, tagging, website, default encryption, ownership controls and
PublicAccessBlock — with their Get/Put/Delete operations built from one
table (docs/access.md, docs/lifecycle.md, docs/cdn-and-apps.md,
docs/encryption.md, docs/object-lock.md).

Invariants: every operation is authorized as its S3 action first
(gateway/authorization.py; the policy, ownership controls and PublicAccessBlock
only ever by the owner); a body is read whole with S3's integrity checks
(gateway/small_body.py) and parsed and checked before anything is stored; the
metadata state machine checks the stored value again when it applies it
(SetBucketAccess), against the bucket's other settings. Delete stores "" and
answers 204; Get of a setting never stored is the setting's own S3 error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway import (
    access_xml,
    encryption_xml,
    lifecycle_xml,
    lock_xml,
    s3xml_versions,
    website_xml,
)
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from tessera import access, bucket_encryption, errors, lifecycle, limits, policy, website
from tessera.model import BucketInfo

Handler = Callable[[web.Request, GatewayState, Route, str], Awaitable[web.StreamResponse]]

SETTING_BODY_MAX_BYTES = 64 * 1024
LIFECYCLE_BODY_MAX_BYTES = 512 * 1024  # 1,000 rules fit


@dataclass(frozen=True)
class BucketSetting:
    field: str  # the SetBucketAccess field
    stored: Callable[[BucketInfo], str]
    missing: type[errors.TesseraError]  # Get when nothing is stored
    render: Callable[[str], web.Response]  # the stored value as S3 answers it
    parse: Callable[[bytes, GatewayState, Route], str]  # a Put body: the value to store
    put_status: int = 200
    body_max_bytes: int = SETTING_BODY_MAX_BYTES


def _xml(render: Callable[[str], bytes]) -> Callable[[str], web.Response]:
    return lambda stored: xml_response(render(stored))


def _parse_policy(body: bytes, state: GatewayState, route: Route) -> str:
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise errors.MalformedPolicy() from exc
    policy.parse_policy(text, route.bucket)
    return text


def _parse_cors(body: bytes, state: GatewayState, route: Route) -> str:
    rules = access_xml.parse_cors(body)
    access.check_cors_rules(rules)
    return access.cors_to_json(rules)


def _parse_lifecycle(body: bytes, state: GatewayState, route: Route) -> str:
    rules = lifecycle_xml.parse_lifecycle(body)
    lifecycle.check_rules(rules)
    return lifecycle.rules_to_json(rules)


def _parse_tagging(body: bytes, state: GatewayState, route: Route) -> str:
    tags = s3xml_versions.parse_tagging(body, limits.TAGS_PER_BUCKET_MAX)
    return json.dumps(tags, sort_keys=True) if tags else ""  # an empty TagSet removes them


def _parse_website(body: bytes, state: GatewayState, route: Route) -> str:
    config = website_xml.parse_website(body)
    website.check_config(config)
    return website.config_to_json(config)


def _parse_encryption(body: bytes, state: GatewayState, route: Route) -> str:
    config = encryption_xml.parse_configuration(body)
    state.encryption.require_master_key()
    return bucket_encryption.to_json(config)


def _render_encryption(stored: str) -> bytes:
    config = bucket_encryption.from_json(stored)
    assert config is not None, "only a stored default is rendered"
    return encryption_xml.render_configuration(config)


POLICY = BucketSetting(
    "policy",
    lambda b: b.policy,
    errors.NoSuchBucketPolicy,
    lambda stored: web.Response(body=stored.encode(), content_type="application/json"),
    _parse_policy,
    put_status=204,
)
CORS = BucketSetting(
    "cors",
    lambda b: b.cors,
    errors.NoSuchCORSConfiguration,
    _xml(lambda stored: access_xml.render_cors(access.cors_from_json(stored))),
    _parse_cors,
)
LIFECYCLE = BucketSetting(
    "lifecycle",
    lambda b: b.lifecycle,
    errors.NoSuchLifecycleConfiguration,
    _xml(lambda stored: lifecycle_xml.render_lifecycle(lifecycle.rules_from_json(stored))),
    _parse_lifecycle,
    body_max_bytes=LIFECYCLE_BODY_MAX_BYTES,
)
TAGGING = BucketSetting(
    "tags",
    lambda b: b.tags,
    errors.NoSuchTagSet,
    _xml(lambda stored: s3xml_versions.render_tagging(json.loads(stored))),
    _parse_tagging,
    put_status=204,
)
WEBSITE = BucketSetting(
    "website",
    lambda b: b.website,
    errors.NoSuchWebsiteConfiguration,
    _xml(lambda stored: website_xml.render_website(website.config_from_json(stored))),
    _parse_website,
)
ENCRYPTION = BucketSetting(
    "encryption",
    lambda b: b.encryption if bucket_encryption.from_json(b.encryption) else "",
    errors.ServerSideEncryptionConfigurationNotFoundError,
    _xml(_render_encryption),
    _parse_encryption,
)
OWNERSHIP = BucketSetting(
    "ownership",
    lambda b: b.ownership,
    errors.OwnershipControlsNotFoundError,
    _xml(lock_xml.render_ownership),
    lambda body, state, route: lock_xml.parse_ownership(body),
)
PUBLIC_ACCESS_BLOCK = BucketSetting(
    "public_access_block",
    lambda b: b.public_access_block,
    errors.NoSuchPublicAccessBlockConfiguration,
    _xml(lambda stored: lock_xml.render_public_access_block(access.public_access_block(stored))),
    lambda body, state, route: lock_xml.parse_public_access_block(body).to_json(),
)


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


def getter(setting: BucketSetting) -> Handler:
    async def get(
        request: web.Request, state: GatewayState, route: Route, access_key: str
    ) -> web.StreamResponse:
        bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
        stored = setting.stored(bucket)
        if not stored:
            raise setting.missing(BucketName=route.bucket)
        return setting.render(stored)

    return get


def putter(setting: BucketSetting) -> Handler:
    async def put(
        request: web.Request, state: GatewayState, route: Route, access_key: str
    ) -> web.StreamResponse:
        deadline = _deadline(state)
        await authorized_bucket(request, state, route, access_key, deadline)
        body = await read_small_body(request, setting.body_max_bytes)
        value = setting.parse(body, state, route)
        await state.metadata.set_bucket_access(
            route.bucket, setting.field, value, timeout=deadline.remaining()
        )
        return web.Response(status=setting.put_status)

    return put


def deleter(setting: BucketSetting) -> Handler:
    async def delete(
        request: web.Request, state: GatewayState, route: Route, access_key: str
    ) -> web.StreamResponse:
        deadline = _deadline(state)
        await authorized_bucket(request, state, route, access_key, deadline)
        await state.metadata.set_bucket_access(
            route.bucket, setting.field, "", timeout=deadline.remaining()
        )
        return web.Response(status=204)

    return delete


def _operations(name: str, setting: BucketSetting) -> dict[str, Handler]:
    return {
        f"Get{name}": getter(setting),
        f"Put{name}": putter(setting),
        f"Delete{name}": deleter(setting),
    }


HANDLERS: dict[str, Handler] = {
    **_operations("BucketPolicy", POLICY),
    **_operations("BucketCors", CORS),
    "GetBucketLifecycleConfiguration": getter(LIFECYCLE),
    "PutBucketLifecycleConfiguration": putter(LIFECYCLE),
    "DeleteBucketLifecycle": deleter(LIFECYCLE),
    **_operations("BucketTagging", TAGGING),
    **_operations("BucketWebsite", WEBSITE),
    **_operations("BucketEncryption", ENCRYPTION),
    **_operations("BucketOwnershipControls", OWNERSHIP),
    **_operations("PublicAccessBlock", PUBLIC_ACCESS_BLOCK),
}
