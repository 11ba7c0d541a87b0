"""The multipart RPCs of the Metadata servicer: uploads and their parts.

Creating an upload, recording its parts, completing it into a version or
aborting it, and listing parts and uploads (docs/multipart.md). A mixin of
MetadataService (service.py).

Invariant: every request naming one upload has its bucket, key and upload id
checked (an upload id this service could not have issued is NoSuchUpload)
before anything reaches the state.
"""

from __future__ import annotations

from typing import Any

from metadata import mutations
from metadata.service_core import (
    ServiceCore,
    check_bucket,
    check_key,
    check_upload_id,
    check_upload_key,
    rpc,
)
from proto import convert
from proto import tessera_pb2 as pb
from tessera import errors, limits
from tessera.ids import is_version_id, new_request_id
from tessera.model import CompletedUpload, MultipartUpload, PartsReleased, Segment
from tessera.multipart import ListedPart


class UploadRpcs(ServiceCore):
    @rpc
    async def CreateMultipartUpload(
        self, request: pb.CreateUploadRequest, context: Any
    ) -> pb.UploadRecord:
        upload = convert.upload_from_pb(request.upload)
        check_bucket(upload.bucket, errors.NoSuchBucket)
        check_key(upload.key)
        check_upload_id(upload.upload_id)
        created = await self._submit(
            mutations.CreateMultipartUpload(request.request_id or new_request_id(), upload),
            MultipartUpload,
        )
        return convert.upload_to_pb(created)

    @rpc
    async def GetMultipartUpload(self, request: pb.UploadKey, context: Any) -> pb.UploadRecord:
        check_upload_key(request)
        upload = await self._strong_read(
            context, self._state.get_upload, request.bucket, request.key, request.upload_id
        )
        return convert.upload_to_pb(upload)

    @rpc
    async def PutPart(self, request: pb.PutPartRequest, context: Any) -> pb.PutPartResponse:
        check_upload_key(request)
        replaced = await self._log.submit(
            mutations.PutPart(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                upload_id=request.upload_id,
                part=convert.segment_from_pb(request.part),
            )
        )
        if replaced is None:
            return pb.PutPartResponse(has_replaced=False)
        assert isinstance(replaced, Segment)
        return pb.PutPartResponse(replaced=convert.segment_to_pb(replaced), has_replaced=True)

    @rpc
    async def CompleteMultipartUpload(
        self, request: pb.CompleteUploadRequest, context: Any
    ) -> pb.CompleteUploadResponse:
        check_upload_key(request)
        if not is_version_id(request.version_id):
            raise errors.InvalidArgument("version_id is required")
        if len(request.parts) > limits.PART_NUMBER_MAX:
            raise errors.InvalidArgument("A multipart upload has at most 10000 parts.")
        done = await self._submit(
            mutations.CompleteMultipartUpload(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                upload_id=request.upload_id,
                parts=tuple(
                    ListedPart(p.part_number, p.etag, dict(p.checksums)) for p in request.parts
                ),
                version_id=request.version_id,
                last_modified=self._clock(),
                part_size_min_bytes=limits.PART_SIZE_MIN_BYTES,
                if_none_match_star=request.if_none_match_star,
                if_match_etag=request.if_match_etag,
            ),
            CompletedUpload,
        )
        reply = pb.CompleteUploadResponse(
            version=convert.version_to_pb(done.version),
            has_replaced=done.replaced is not None,
            unreferenced=[convert.segment_to_pb(s) for s in done.unreferenced],
        )
        if done.replaced is not None:
            reply.replaced.CopyFrom(convert.version_to_pb(done.replaced))
        return reply

    @rpc
    async def AbortMultipartUpload(
        self, request: pb.UploadKey, context: Any
    ) -> pb.AbortUploadResponse:
        check_upload_key(request)
        released = await self._submit(
            mutations.AbortMultipartUpload(
                request_id=request.request_id or new_request_id(),
                bucket=request.bucket,
                key=request.key,
                upload_id=request.upload_id,
            ),
            PartsReleased,
        )
        return pb.AbortUploadResponse(parts=[convert.segment_to_pb(s) for s in released.parts])

    @rpc
    async def ListParts(self, request: pb.ListPartsRequest, context: Any) -> pb.ListPartsResponse:
        check_upload_key(request)
        page = await self._strong_read(
            context,
            self._state.list_parts,
            request.bucket,
            request.key,
            request.upload_id,
            request.part_number_marker,
            request.max_parts,
        )
        return convert.parts_page_to_pb(page)

    @rpc
    async def ListMultipartUploads(
        self, request: pb.ListUploadsRequest, context: Any
    ) -> pb.ListUploadsResponse:
        check_bucket(request.bucket, errors.NoSuchBucket)
        page = await self._strong_read(
            context,
            self._state.list_uploads,
            request.bucket,
            request.prefix,
            request.delimiter,
            request.key_marker,
            request.upload_id_marker,
            request.max_uploads,
        )
        return convert.uploads_page_to_pb(page)
