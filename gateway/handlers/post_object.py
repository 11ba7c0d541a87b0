"""PostObject: a browser uploads a file with an HTML form (POST /bucket).

Authentication is the form's signed policy, not an Authorization header. The
fields are read and checked against the policy before a byte of the file is
stored; the file then streams through the write pipeline like any PUT.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from gateway import s3xml, sse
from gateway.admission import write_buffer_bytes
from gateway.auth import post_policy
from gateway.auth_edge import resolve_key
from gateway.authorization import authorized_bucket
from gateway.deadline import Deadline
from gateway.form_body import FormUpload
from gateway.responses import quoted_etag, xml_response
from gateway.routing import Route
from gateway.state import GatewayState
from gateway.usage_meter import add_bytes_in
from gateway.validation import check_key, check_user_metadata
from gateway.write_path import WriteRequest, write_object
from tessera import errors, limits
from tessera.storage_class import requested_class

STORED_FIELDS = ("cache-control", "content-disposition", "content-encoding", "expires")


async def post_object(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    if request.content_type != "multipart/form-data":
        raise errors.PreconditionFailed(
            "Bucket POST must be of the enclosure-type multipart/form-data"
        )
    boundary = _boundary(request.headers.get("Content-Type", ""))
    if not boundary:
        raise errors.MalformedPOSTRequest()
    if request.content_length is None:
        raise errors.MissingContentLength()
    form = FormUpload(request.content, request.content_length, boundary)
    await form.read_fields()
    await resolve_key(state, form.fields.get("x-amz-credential", "").split("/", 1)[0])
    policy = post_policy.verify(
        form.fields, state.secret_for, state.settings.region, datetime.now(UTC)
    )
    if "key" not in form.fields:
        raise errors.InvalidArgument("Bucket POST must contain a field named 'key'.")
    key = form.fields["key"].replace("${filename}", form.filename or "")
    check_key(key)
    post_policy.check_fields(policy, form.fields, route.bucket)
    post_policy.check_size(policy, form.size_bytes)
    if form.size_bytes > limits.SINGLE_PUT_SIZE_MAX_BYTES:
        raise errors.EntityTooLarge()
    # Encryption fields (x-amz-server-side-encryption...) as PutObject's headers.
    encryption = sse.requested(CIMultiDict(form.fields), None)
    write_policy = state.policy_for(
        requested_class(form.fields.get("x-amz-storage-class"), state.class_policies)
    )
    bucket = await authorized_bucket(
        request,
        state,
        route,
        state.keys.owner_for(policy.access_key),
        deadline,
        key=key,
        operation="PutObject",
    )
    user_metadata = {
        name[len("x-amz-meta-") :]: value
        for name, value in form.fields.items()
        if name.startswith("x-amz-meta-")
    }
    check_user_metadata(user_metadata)
    write = WriteRequest(
        bucket=route.bucket,
        key=key,
        content_type=form.fields.get("content-type", "binary/octet-stream"),
        user_metadata=user_metadata,
        system_metadata={f: form.fields[f] for f in STORED_FIELDS if f in form.fields},
    )
    if encryption is None:
        encryption = sse.requested({}, bucket)  # the bucket default
    write = await state.encryption.sealed(write, encryption, deadline)
    with state.admission.reserve(write_buffer_bytes(write_policy.geometry)):
        version, replaced = await write_object(
            body=form,
            request=write,
            policy=write_policy,
            cluster=state.cluster,
            metadata=state.metadata,
            executor=state.executor,
            deadline=deadline,
            reclaimer=state.reclaimer,
            bucket=bucket,
        )
    state.reclaimer.unreferenced(replaced)
    add_bytes_in(request, version.size_bytes)
    etag = quoted_etag(version)
    redirect = form.fields.get("success_action_redirect") or form.fields.get("redirect")
    if redirect:
        query = urlencode({"bucket": route.bucket, "key": key, "etag": etag})
        separator = "&" if "?" in redirect else "?"
        return web.Response(
            status=303, headers={"Location": f"{redirect}{separator}{query}", "ETag": etag}
        )
    status = form.fields.get("success_action_status", "204")
    location = f"/{route.bucket}/{key}"
    headers = {"ETag": etag, "Location": location, **sse.response_headers(version.system_metadata)}
    if status == "201":
        body = s3xml.render_post_response(location, route.bucket, key, version.etag)
        response = xml_response(body, status=201)
        response.headers.update(headers)
        return response
    return web.Response(status=200 if status == "200" else 204, headers=headers)


def _boundary(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"') or None
    return None
