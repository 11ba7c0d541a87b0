"""The S3 HTTP application: one dispatcher that authenticates, routes to an
operation handler, and turns every error into S3's XML error answer.

Invariants: every response carries x-amz-request-id; an exception that is not
a TesseraError is logged with its request id and answered 500 InternalError;
no handler runs for a request that failed authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway import cors, metrics
from gateway.admission import Admission
from gateway.auth_edge import authenticate
from gateway.cluster import ClusterView
from gateway.handlers import (
    access,
    bucket_settings,
    buckets,
    delete_many,
    listing,
    locks,
    multipart,
    multipart_lists,
    objects,
    post_object,
    versions,
)
from gateway.prefetch import VersionHints
from gateway.principals import KeyCache
from gateway.reclaim import ShardReclaimer
from gateway.responses import error_response
from gateway.routing import Route, operation_for, split_request
from gateway.sse import KeyService, load_master_key
from gateway.state import STATE, GatewayState
from gateway.usage_meter import FLUSH_TIMEOUT_SECONDS, UsageMeter
from gateway.write_path import WritePolicy
from metadata.client import MetadataClient
from tessera import errors, ids, limits
from tessera.config import GatewaySettings
from tessera.sealing import Sealer
from tessera.storage_class import (
    STANDARD,
    StorageClass,
    StorageClassError,
    check_layout,
    parse_storage_classes,
    write_quorum,
)

log = logging.getLogger(__name__)

CLASS_FIT_CHECK_SECONDS = 30.0

Handler = Callable[[web.Request, GatewayState, Route, str], Awaitable[web.StreamResponse]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": buckets.list_buckets,
    "CreateBucket": buckets.create_bucket,
    "HeadBucket": buckets.head_bucket,
    "DeleteBucket": buckets.delete_bucket,
    "GetBucketLocation": buckets.get_bucket_location,
    "GetBucketVersioning": versions.get_bucket_versioning,
    "PutBucketVersioning": versions.put_bucket_versioning,
    "ListObjectVersions": versions.list_object_versions,
    "GetObjectTagging": versions.get_object_tagging,
    "PutObjectTagging": versions.put_object_tagging,
    "DeleteObjectTagging": versions.delete_object_tagging,
    "ListObjectsV2": listing.list_objects_v2,
    "ListObjects": listing.list_objects_v1,
    "PutObject": objects.put_object,
    "GetObject": objects.get_object,
    "HeadObject": objects.head_object,
    "DeleteObject": objects.delete_object,
    "DeleteObjects": delete_many.delete_objects,
    "PostObject": post_object.post_object,
    "PreflightRequest": cors.preflight,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart_lists.list_parts,
    "ListMultipartUploads": multipart_lists.list_multipart_uploads,
    **bucket_settings.HANDLERS,
    "GetBucketAcl": access.get_bucket_acl,
    "PutBucketAcl": access.put_bucket_acl,
    "GetObjectAcl": access.get_object_acl,
    "PutObjectAcl": access.put_object_acl,
    "GetObjectLockConfiguration": locks.get_object_lock_configuration,
    "PutObjectLockConfiguration": locks.put_object_lock_configuration,
    "GetObjectRetention": locks.get_object_retention,
    "PutObjectRetention": locks.put_object_retention,
    "GetObjectLegalHold": locks.get_object_legal_hold,
    "PutObjectLegalHold": locks.put_object_legal_hold,
}

# Operations that authenticate inside their handler: a form upload with its
# signed policy, a CORS preflight (which browsers send without credentials)
# with the pre-signed URL it asks about.
SELF_AUTHENTICATED = frozenset({"PostObject", "PreflightRequest"})


async def dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    request_id = ids.new_request_id()
    started = time.monotonic()
    operation = "Unknown"
    resource = request.path
    bucket = ""
    try:
        bucket, key = split_request(request.host, request.raw_path, state.settings.domains)
        operation = operation_for(request.method, bucket, key, request.query)
        route = Route(bucket=bucket, key=key, operation=operation)
        # Before authenticating, so that refusals carry the bucket's CORS headers
        # too (a page can then read why it was refused), as S3 does.
        await cors.note_bucket_rules(request, state, route)
        # Handlers get the requester's bucket owner id (tessera.access.owner_id;
        # the root key owns as itself; "" for an anonymous request).
        access_key = (
            "" if operation in SELF_AUTHENTICATED else await authenticate(request, state, operation)
        )
        if operation.startswith("Unsupported:"):
            raise errors.NotImplemented(f"{operation.split(':', 1)[1]} is not implemented.")
        response = await HANDLERS[operation](request, state, route, access_key)
        code = str(response.status)
    except errors.TesseraError as exc:
        response = error_response(exc, resource, request_id, head=request.method == "HEAD")
        code = exc.code
    except Exception:
        log.exception("request %s (%s %s) failed", request_id, request.method, request.path)
        internal = errors.InternalError()
        response = error_response(internal, resource, request_id, head=request.method == "HEAD")
        code = internal.code
    if not response.prepared:
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        cors.allow_signed_origin(request, response)
    state.meter.note(bucket, operation, request)
    metrics.REQUESTS.labels(operation.split(":")[0], code).inc()
    metrics.REQUEST_SECONDS.labels(operation.split(":")[0]).observe(time.monotonic() - started)
    return response


def build_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    master_key = load_master_key(settings.master_key_file)  # a bad file stops the start
    # A malformed storage-class setting stops the start too (StorageClassError).
    classes = parse_storage_classes(
        settings.storage_classes, settings.data_shards, settings.parity_shards
    )
    log.info("storage classes: %s", ", ".join(c.spec() for c in classes.values()))

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        metadata = MetadataClient(
            settings.metadata_address,
            settings.cluster_secret,
            bucket_cache_seconds=settings.bucket_cache_seconds,
            record_lease_bytes=settings.record_lease_bytes,
        )
        cluster = ClusterView(metadata, settings.cluster_secret)
        executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tessera-gw")
        root = {settings.access_key: settings.secret_key} if settings.access_key else {}
        policies = _class_policies(settings, classes)
        app[STATE] = GatewayState(
            settings=settings,
            metadata=metadata,
            cluster=cluster,
            executor=executor,
            policy=policies[STANDARD],
            class_policies=policies,
            credentials=root,
            keys=KeyCache(metadata, Sealer(settings.cluster_secret), root),
            reclaimer=ShardReclaimer(cluster),
            admission=Admission(settings.inflight_bytes_max),
            encryption=KeyService(master_key, metadata, settings.region),
            meter=UsageMeter(
                metadata, settings.usage_flush_seconds, settings.usage_retention_hours
            ),
            version_hints=VersionHints(),
        )
        background = [
            asyncio.create_task(cluster.run(), name="cluster-map"),
            asyncio.create_task(app[STATE].reclaimer.run(), name="shard-reclaimer"),
            asyncio.create_task(app[STATE].meter.run(), name="usage-meter"),
        ]
        await cluster.wait_loaded(10.0)
        background.append(
            asyncio.create_task(_report_class_fits(cluster, classes), name="class-fits")
        )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # A graceful stop loses no request counts (docs/usage-and-quotas.md).
            await app[STATE].meter.flush(FLUSH_TIMEOUT_SECONDS)
            await cluster.close()
            await metadata.close()
            executor.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(lifetime)
    app.on_response_prepare.append(cors.add_bucket_rule_headers)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _class_policies(
    settings: GatewaySettings, classes: dict[str, StorageClass]
) -> dict[str, WritePolicy]:
    inline_max_bytes = max(0, min(settings.inline_max_bytes, limits.INLINE_MAX_BYTES))
    return {
        name: WritePolicy(
            geometry=c.geometry(settings.chunk_size_bytes),
            write_quorum=write_quorum(c.data_shards, c.parity_shards, settings.write_quorum),
            inline_max_bytes=inline_max_bytes,
            storage_class=name,
        )
        for name, c in classes.items()
    }


async def _report_class_fits(cluster: ClusterView, classes: dict[str, StorageClass]) -> None:
    """Logs what each class promises on the cluster map, and a warning for a
    class the map cannot place (its PUTs answer 503 until nodes join), each
    time the set of zones and nodes changes. Nodes join after the gateway
    starts, so this informs rather than stops the start; `tessera up` and
    cli/local_cluster.py refuse a layout that does not fit before starting."""
    seen: dict[str, int] | None = None
    while True:
        layout: dict[str, int] = {}
        for candidate in cluster.candidates():
            layout[candidate.zone] = layout.get(candidate.zone, 0) + 1
        if layout != seen:
            seen = layout
            try:
                for fit in check_layout(classes, layout):
                    log.info("storage class on %s: %s", layout, fit.describe())
            except StorageClassError as exc:
                log.warning("storage classes do not fit the cluster map %s: %s", layout, exc)
        await asyncio.sleep(CLASS_FIT_CHECK_SECONDS)
