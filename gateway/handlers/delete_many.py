"""DeleteObjects (POST /bucket?delete): up to 1000 keys in one request.

Each key is deleted as DeleteObject would (a missing key counts as deleted,
as in S3); per-key failures are reported in the result instead of failing
the whole request. Quiet mode lists only the failures. The body must carry
an integrity check (Content-MD5 or an x-amz-checksum-*), which is verified.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway import s3xml
from gateway.authorization import allowed, may_bypass_governance
from gateway.deadline import Deadline
from gateway.responses import xml_response
from gateway.routing import Route
from gateway.small_body import read_small_body
from gateway.state import GatewayState
from gateway.validation import check_key
from tessera import errors

BODY_MAX_BYTES = 2 * 1024 * 1024
PARALLEL_DELETES = 16


async def delete_objects(
    request: web.Request, state: GatewayState, route: Route, access_key: str
) -> web.StreamResponse:
    deadline = Deadline(state.settings.request_timeout_seconds)
    body = await read_small_body(request, BODY_MAX_BYTES, digest_required=True)
    wanted = s3xml.parse_delete_objects(body)
    # Authorized per key below, as S3 does (no bucket-level permission).
    bucket = await state.metadata.get_bucket(route.bucket, timeout=deadline.remaining())
    limiter = asyncio.Semaphore(PARALLEL_DELETES)

    async def delete_one(
        key: str, version: str | None
    ) -> s3xml.DeletedEntry | tuple[str, str, str]:
        async with limiter:
            try:
                check_key(key)
                # Each key is authorized on its own, as s3:DeleteObject(Version).
                action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
                if not allowed(
                    request, bucket, access_key, route.operation, key=key, action=action
                ):
                    raise errors.AccessDenied()
                done = await state.metadata.delete_versioned(
                    route.bucket,
                    key,
                    version_id=version or "",
                    timeout=deadline.remaining(),
                    bypass_governance=may_bypass_governance(
                        request, bucket, access_key, route.operation, key
                    ),
                )
            except errors.TesseraError as exc:
                return key, exc.code, exc.message
            state.reclaimer.unreferenced(done.removed)
            if done.marker is not None:
                return s3xml.DeletedEntry(key, version or "", True, done.marker.s3_version_id)
            removed_marker = done.removed is not None and done.removed.delete_marker
            return s3xml.DeletedEntry(
                key,
                version or "",
                removed_marker,
                (version or "") if removed_marker else "",
            )

    outcomes = await asyncio.gather(*(delete_one(k, v) for k, v in wanted.keys))
    failed = [o for o in outcomes if isinstance(o, tuple)]
    deleted = [] if wanted.quiet else [o for o in outcomes if isinstance(o, s3xml.DeletedEntry)]
    return xml_response(s3xml.render_delete_result(deleted, failed))
