"""The object RPCs of the Metadata servicer: object versions and their listings.

Committing, reading and deleting versions (delete markers included), the
per-version settings (ACL, tags, Object Lock retention and legal hold), and
the two listings (current objects, all versions). A mixin of MetadataService
(service.py).

Invariants: bucket and key are checked before anything reaches the state; a
mutation that compares against "now" (Object Lock) carries this service's
clock, stamped here at submission, never a clock read at apply time
(docs/metadata.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from metadata import mutations
from metadata.service_core import ServiceCore, check_bucket, check_key, rpc
from proto import convert
from proto import tessera_pb2 as pb
from tessera import errors
from tessera.ids import new_request_id, new_version_id
from tessera.model import ObjectDeleted, ObjectVersion

# convert.summary_records_to_pb or summary_records_to_columns: (records,
# common prefixes, is_truncated, next_start_after) -> the page's message
SummaryBuilder = Callable[[Iterable[bytes], Sequence[str], bool, str], pb.ListObjectsResponse]


class ObjectRpcs(ServiceCore):
    @rpc
    async def PutObject(self, request: pb.PutObjectRequest, context: Any) -> pb.PutObjectResponse:
        record = request.version
        check_bucket(record.bucket, errors.NoSuchBucket)
        check_key(record.key)
        if not record.version_id:
            raise errors.InvalidArgument("version_id is required")
        version = convert.version_from_pb(record)
        request_id = version.request_id or new_request_id()
        replaced = await self._log.submit(
            mutations.PutObject(
                request_id,
                version,
                if_none_match_star=request.if_none_match_star,
                if_match_etag=request.if_match_etag,
                now=self._clock(),
                if_bucket_fingerprint=request.if_bucket_fingerprint,
            )
        )
        if replaced is None:
            reply = pb.PutObjectResponse(has_replaced=False)
        else:
            assert isinstance(replaced, ObjectVersion)
            reply = pb.PutObjectResponse(
                replaced=convert.version_to_pb(replaced), has_replaced=True
            )
        if request.want_record:
            reply.stored_revision = await self._stored_revision(version)
        return reply

    async def _stored_revision(self, version: ObjectVersion) -> int:
        """This replica's applied revision, read before the key's current
        record, if that record is version as sent (0 if not: a versioned
        bucket's version id, a default retention, or a later write) — for a
        gateway keeping records under record leases (metadata/leased_records.py)."""
        revision = self._applied_revision()
        try:
            current = await self._object(version.bucket, version.key)
        except errors.TesseraError:
            return 0
        return revision if current == version else 0

    @rpc
    async def GetObject(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        revision = 0

        async def read() -> ObjectVersion:
            nonlocal revision
            # Before the read: the record is at least this new (a gateway
            # keeps it only if no invalidation it received is newer).
            revision = self._applied_revision()
            return await self._object(request.bucket, request.key)

        version = await self._strong(context, read)
        record = convert.version_to_pb(version)
        record.read_revision = revision
        return record

    @rpc
    async def DeleteObject(self, request: pb.ObjectKey, context: Any) -> pb.DeleteObjectResponse:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        result = await self._log.submit(
            mutations.DeleteObject(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                version_id=request.version_id,
                marker_version_id=request.marker_version_id or new_version_id(),
                last_modified=request.last_modified or self._clock(),
                bypass_governance=request.bypass_governance,
                now=self._clock(),
                if_bucket_fingerprint=request.if_bucket_fingerprint,
            )
        )
        if isinstance(result, ObjectDeleted):
            reply = pb.DeleteObjectResponse(
                existed=result.removed is not None, has_marker=result.marker is not None
            )
            if result.removed is not None:
                reply.deleted.CopyFrom(convert.version_to_pb(result.removed))
            if result.marker is not None:
                reply.marker.CopyFrom(convert.version_to_pb(result.marker))
            return reply
        if result is None:
            return pb.DeleteObjectResponse(existed=False)
        assert isinstance(result, ObjectVersion)
        return pb.DeleteObjectResponse(deleted=convert.version_to_pb(result), existed=True)

    @rpc
    async def GetObjectVersion(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        version = await self._strong_read(
            context,
            self._state.get_object_version,
            request.bucket,
            request.key,
            request.version_id,
        )
        return convert.version_to_pb(version)

    @rpc
    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: Any
    ) -> pb.ListObjectsResponse:
        check_bucket(request.bucket, errors.NoSuchBucket)
        if request.summary:
            return await self._strong(context, lambda: self._summary_page_ahead(request))
        page = await self._strong_read(
            context,
            self._state.list_objects,
            request.bucket,
            request.prefix,
            request.delimiter,
            request.start_after,
            request.max_keys,
        )
        return convert.page_to_pb(page)

    async def _summary_page_ahead(self, request: pb.ListObjectsRequest) -> pb.ListObjectsResponse:
        """A summary page (after the strong read's wait): the one read ahead
        for exactly this request if nothing changed the bucket since, else
        read now; when it is truncated, the next page is read ahead
        (metadata/list_ahead.py)."""
        bucket, prefix, delimiter = request.bucket, request.prefix, request.delimiter
        max_keys, columns = request.max_keys, request.columns
        build = convert.summary_records_to_columns if columns else convert.summary_records_to_pb

        def asking(start_after: str) -> tuple[object, ...]:
            return (bucket, prefix, delimiter, start_after, max_keys, columns)

        def read(start_after: str) -> Awaitable[pb.ListObjectsResponse]:
            walk = (bucket, prefix, delimiter, start_after, max_keys)
            return self._read(self._summary_page, build, *walk)

        page = await self._pages_ahead.take(asking(request.start_after))
        if page is None:
            page = await read(request.start_after)
        following = page.next_start_after
        if page.is_truncated and following:
            self._pages_ahead.read_ahead(bucket, asking(following), lambda: read(following))
        return page

    def _summary_page(
        self,
        build: SummaryBuilder,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
    ) -> pb.ListObjectsResponse:
        """A summary page built from the stored records in one pass (in the
        reads executor): no VersionSummary between the JSON and the message;
        build makes it columns or one message per record."""
        walk = self._state.list_object_records(bucket, prefix, delimiter, start_after, max_keys)
        return build(
            (raw for _, raw in walk.objects),
            walk.common_prefixes,
            walk.is_truncated,
            walk.next_start_after,
        )

    @rpc
    async def ListObjectVersions(
        self, request: pb.ListVersionsRequest, context: Any
    ) -> pb.ListVersionsResponse:
        check_bucket(request.bucket, errors.NoSuchBucket)
        args = (
            request.bucket,
            request.prefix,
            request.delimiter,
            request.key_marker,
            request.version_id_marker,
            request.max_keys,
        )
        if request.summary:
            summaries = await self._strong_read(context, self._state.list_version_summaries, *args)
            return convert.summary_versions_page_to_pb(summaries)
        page = await self._strong_read(context, self._state.list_versions, *args)
        return convert.versions_page_to_pb(page)

    @rpc
    async def PutObjectTagging(self, request: pb.TaggingRequest, context: Any) -> pb.ObjectRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        version = await self._submit(
            mutations.PutObjectTagging(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                version_id=request.version_id,
                tags=dict(request.tags),
            ),
            ObjectVersion,
        )
        return convert.version_to_pb(version)

    @rpc
    async def SetObjectAcl(self, request: pb.SetObjectAclRequest, context: Any) -> pb.ObjectRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        version = await self._submit(
            mutations.SetObjectAcl(
                request.request_id or new_request_id(), request.bucket, request.key, request.acl
            ),
            ObjectVersion,
        )
        return convert.version_to_pb(version)

    @rpc
    async def SetObjectLock(
        self, request: pb.SetObjectLockRequest, context: Any
    ) -> pb.ObjectRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        check_key(request.key)
        version = await self._submit(
            mutations.SetObjectLock(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                version_id=request.version_id,
                field=request.field,
                mode=request.mode,
                retain_until=request.retain_until,
                legal_hold=request.legal_hold,
                bypass_governance=request.bypass_governance,
                now=self._clock(),  # retention dates compare with this clock
            ),
            ObjectVersion,
        )
        return convert.version_to_pb(version)
