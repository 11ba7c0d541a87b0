"""Bucket default encryption: PutBucketEncryption, GetBucketEncryption and
DeleteBucketEncryption (?encryption). The default applies to every write
that carries no encryption headers of its own (gateway/sse.py).

Invariant: a stored default always passes tessera.bucket_encryption.check, and
one needing the master key is accepted only by a gateway that has one.
"""

from __future__ import annotations

import hashlib
from xml.etree.ElementTree import Element

from aiohttp import web

from gateway.auth_edge import AUTH_RESULT
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from gateway.state import GatewayState
from tessera import bucket_encryption, errors
from tessera.bucket_encryption import DefaultEncryption

BODY_MAX_BYTES = 64 * 1024


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local_name(c) == name]


def parse_configuration(body: bytes) -> DefaultEncryption:
    """The default of a ServerSideEncryptionConfiguration body (one Rule)."""
    root = _parse(body, "ServerSideEncryptionConfiguration")
    rules = _children(root, "Rule")
    if len(rules) != 1:
        raise errors.MalformedXML("The configuration must hold exactly one Rule.")
    defaults = _children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise errors.MalformedXML("The Rule must hold ApplyServerSideEncryptionByDefault.")
    algorithms = _children(defaults[0], "SSEAlgorithm")
    key_ids = _children(defaults[0], "KMSMasterKeyID")
    if len(algorithms) != 1 or len(key_ids) > 1:
        raise errors.MalformedXML("SSEAlgorithm is required, once.")
    config = DefaultEncryption(
        algorithm=(algorithms[0].text or "").strip(),
        kms_key_id=(key_ids[0].text or "").strip() if key_ids else "",
    )
    return bucket_encryption.check(config)


def render_configuration(config: DefaultEncryption) -> bytes:
    fields = [_el("SSEAlgorithm", config.algorithm)]
    if config.kms_key_id:
        fields.append(_el("KMSMasterKeyID", config.kms_key_id))
    rule = _wrap(
        "Rule",
        [_wrap("ApplyServerSideEncryptionByDefault", fields), _el("BucketKeyEnabled", "false")],
    )
    return _document("ServerSideEncryptionConfiguration", [rule])


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    body = await request.content.read(BODY_MAX_BYTES + 1)
    if len(body) > BODY_MAX_BYTES:
        raise errors.MalformedXML("The request body is too large.")
    expected = request[AUTH_RESULT].expected_payload_sha256
    if expected is not None and hashlib.sha256(body).hexdigest() != expected:
        raise errors.XAmzContentSHA256Mismatch()
    return body


def _deadline(state: GatewayState) -> Deadline:
    return Deadline(state.settings.request_timeout_seconds)


async def get_bucket_encryption(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    bucket = await authorized_bucket(request, state, route, access_key, _deadline(state))
    config = bucket_encryption.from_json(bucket.encryption)
    if config is None:
        raise errors.ServerSideEncryptionConfigurationNotFoundError(BucketName=route.bucket)
    return xml_response(render_configuration(config))


async def put_bucket_encryption(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    config = parse_configuration(await _body(request))
    state.encryption.require_master_key()
    await state.metadata.set_bucket_access(
        route.bucket,
        "encryption",
        bucket_encryption.to_json(config),
        timeout=deadline.remaining(),
    )
    return web.Response(status=200)


async def delete_bucket_encryption(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = _deadline(state)
    await authorized_bucket(request, state, route, access_key, deadline)
    await state.metadata.set_bucket_access(
        route.bucket, "encryption", "", timeout=deadline.remaining()
    )
    return web.Response(status=204)
