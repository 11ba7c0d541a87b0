"""The bucket RPCs of the Metadata servicer: buckets and their settings.

Creating, deleting, reading and listing buckets, and the settings on a
bucket's record: access (ACL, policy, CORS, lifecycle, tags, website,
cache-control) and versioning. A mixin of MetadataService (service.py).

Invariant (service_core.py): a bucket name that could alias another bucket's
keyspace is refused before it reaches the state, as InvalidBucketName when
creating and NoSuchBucket otherwise.
"""

from __future__ import annotations

from typing import Any

from metadata import mutations
from metadata.service_core import ServiceCore, check_bucket, rpc
from proto import convert
from proto import tessera_pb2 as pb
from tessera import errors
from tessera.ids import new_request_id
from tessera.model import BucketInfo


class BucketRpcs(ServiceCore):
    @rpc
    async def CreateBucket(self, request: pb.CreateBucketRequest, context: Any) -> pb.BucketRecord:
        check_bucket(request.name, errors.InvalidBucketName)
        bucket = await self._submit(
            mutations.CreateBucket(
                request_id=request.request_id or new_request_id(),
                name=request.name,
                owner=request.owner,
                created_at=self._clock(),
                acl=request.acl or "private",
                object_lock=request.object_lock,
            ),
            BucketInfo,
        )
        return convert.bucket_to_pb(bucket)

    @rpc
    async def DeleteBucket(self, request: pb.BucketName, context: Any) -> pb.Empty:
        check_bucket(request.name, errors.NoSuchBucket)
        await self._log.submit(
            mutations.DeleteBucket(
                request_id=request.request_id or new_request_id(), name=request.name
            )
        )
        return pb.Empty()

    @rpc
    async def GetBucket(self, request: pb.BucketName, context: Any) -> pb.BucketRecord:
        check_bucket(request.name, errors.NoSuchBucket)
        bucket = await self._strong_read(context, self._state.get_bucket, request.name)
        return convert.bucket_to_pb(bucket)

    @rpc
    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: Any
    ) -> pb.ListBucketsResponse:
        buckets = await self._strong_read(context, self._state.list_buckets, request.owner)
        return pb.ListBucketsResponse(buckets=[convert.bucket_to_pb(b) for b in buckets])

    @rpc
    async def SetBucketAccess(
        self, request: pb.SetBucketAccessRequest, context: Any
    ) -> pb.BucketRecord:
        check_bucket(request.bucket, errors.NoSuchBucket)
        bucket = await self._submit(
            mutations.SetBucketAccess(
                request.request_id or new_request_id(),
                request.bucket,
                request.field,
                request.value,
            ),
            BucketInfo,
        )
        return convert.bucket_to_pb(bucket)

    @rpc
    async def PutBucketVersioning(
        self, request: pb.BucketVersioningRequest, context: Any
    ) -> pb.BucketRecord:
        check_bucket(request.name, errors.NoSuchBucket)
        bucket = await self._submit(
            mutations.PutBucketVersioning(
                request_id=request.request_id or new_request_id(),
                name=request.name,
                status=request.status,
            ),
            BucketInfo,
        )
        return convert.bucket_to_pb(bucket)
