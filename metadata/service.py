"""The Metadata gRPC servicer: the protobuf edge of the state, the log and liveness.

Writes become mutations submitted to the log (a request id is generated when
the caller sent none); strong reads (buckets, objects, listings, the cluster
map) first wait for the replica to have applied the log up to its head (the
read index; a no-op for the single-replica log), then run on the bounded read
executor against the applied state. Registration and heartbeats go to the
liveness source; the map itself is state, kept in step by reconcile_liveness.

Invariants: every S3 error reaches the caller through proto.rpc.abort_with, so
the gateway sees the exact S3 code; anything else is logged and answered as
InternalError; a bucket name that could alias another bucket's keyspace (empty,
or holding NUL or "/") never reaches the state; no strong read answers from a
state older than the log's head at the time the read arrived.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import grpc.aio

from metadata import checkpoint, liveness, metrics, mutations, removal
from metadata.commit import MutationLog
from metadata.liveness import LiveSet
from metadata.logformat import revision_of
from metadata.repair import RepairScheduler
from metadata.state import StateMachine, removed_message
from metadata.usage_service import UsageRpcs
from proto import convert
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.rpc import abort_with
from tessera import access, errors, limits
from tessera.ids import is_version_id, new_request_id, new_version_id
from tessera.model import (
    AccessKeyInfo,
    BucketInfo,
    ClusterMapView,
    CompletedUpload,
    KmsKeyInfo,
    MultipartUpload,
    NodeInfo,
    ObjectDeleted,
    ObjectVersion,
    PartsReleased,
    Segment,
    UserInfo,
)
from tessera.multipart import ListedPart

log = logging.getLogger(__name__)

T = TypeVar("T")

BUCKET_NAME_MAX_BYTES = 255  # S3 allows 63; legacy names up to 255 — the gateway decides
SERVER_TIMEOUT_DEFAULT_SECONDS = 10.0
CHECKPOINT_SCRATCH = "checkpoints"


class LivenessSource(Protocol):
    async def register(self, node: NodeInfo, *, timeout: float) -> int: ...  # noqa: ASYNC109
    async def heartbeat(self, node_id: str, *, timeout: float) -> None: ...  # noqa: ASYNC109
    async def live_set(self, *, timeout: float) -> LiveSet: ...  # noqa: ASYNC109


ReadIndex = Callable[[float], Awaitable[object]]


class LocalLivenessSource:
    """liveness.LocalLiveness behind the async LivenessSource interface."""

    def __init__(self, local: liveness.LocalLiveness, clock: Callable[[], float]) -> None:
        self._local = local
        self._clock = clock

    async def register(self, node: NodeInfo, *, timeout: float) -> int:  # noqa: ASYNC109
        return self._local.register(node.node_id, self._clock())

    async def heartbeat(self, node_id: str, *, timeout: float) -> None:  # noqa: ASYNC109
        self._local.heartbeat(node_id, self._clock())

    async def live_set(self, *, timeout: float) -> LiveSet:  # noqa: ASYNC109
        return self._local.live_set(self._clock())


@dataclasses.dataclass
class Replica:
    """What a replicated service knows about itself (None for a single replica)."""

    replica_id: str
    read_index: ReadIndex
    scratch_dir: Path


class MetadataService(UsageRpcs, pb_grpc.MetadataServicer):  # type: ignore[misc]
    def __init__(
        self,
        state: StateMachine,
        mutation_log: MutationLog,
        liveness_source: LivenessSource,
        reads: Executor,
        clock: Callable[[], float] = time.time,
        replica: Replica | None = None,
        repair: RepairScheduler | None = None,
    ) -> None:
        self._state = state
        self._log = mutation_log
        self._liveness = liveness_source
        self._reads = reads
        self._clock = clock
        self._replica = replica
        self.repair = repair
        self._usage: dict[str, tuple[int, int, float]] = {}  # node: capacity, used, seen at

    async def reconcile_liveness(self, timeout: float) -> int:  # noqa: ASYNC109
        """Appends the corrections that bring the map in line with who is alive;
        returns how many. Called periodically by every replica."""
        deadline = time.monotonic() + timeout
        live = await self._liveness.live_set(timeout=timeout)
        await self._consistent(max(0.0, deadline - time.monotonic()))
        view = await self._read(self._state.cluster_map)
        fixes = liveness.corrections(view, live)
        for fix in fixes:
            log.info(
                "node %s is %s (liveness revision %d)",
                fix.node_id,
                "alive" if fix.alive else "gone",
                fix.observed_revision,
            )
            await self._log.submit(fix)
        if fixes:
            view = await self._read(self._state.cluster_map)
        self._count_nodes(view)
        return len(fixes)

    # ------------------------------------------------------------ buckets

    async def CreateBucket(self, request: pb.CreateBucketRequest, context: Any) -> pb.BucketRecord:
        async def work() -> pb.BucketRecord:
            _check_bucket(request.name, errors.InvalidBucketName)
            bucket = await self._log.submit(
                mutations.CreateBucket(
                    request_id=request.request_id or new_request_id(),
                    name=request.name,
                    owner=request.owner,
                    created_at=self._clock(),
                    acl=request.acl or "private",
                    object_lock=request.object_lock,
                )
            )
            assert isinstance(bucket, BucketInfo)
            return convert.bucket_to_pb(bucket)

        return await _serve(context, "CreateBucket", work)

    async def DeleteBucket(self, request: pb.BucketName, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            _check_bucket(request.name, errors.NoSuchBucket)
            await self._log.submit(
                mutations.DeleteBucket(
                    request_id=request.request_id or new_request_id(), name=request.name
                )
            )
            return pb.Empty()

        return await _serve(context, "DeleteBucket", work)

    async def GetBucket(self, request: pb.BucketName, context: Any) -> pb.BucketRecord:
        async def work() -> pb.BucketRecord:
            _check_bucket(request.name, errors.NoSuchBucket)
            await self._consistent(_remaining(context))
            bucket = await self._read(self._state.get_bucket, request.name)
            return convert.bucket_to_pb(bucket)

        return await _serve(context, "GetBucket", work)

    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: Any
    ) -> pb.ListBucketsResponse:
        async def work() -> pb.ListBucketsResponse:
            await self._consistent(_remaining(context))
            buckets = await self._read(self._state.list_buckets, request.owner)
            return pb.ListBucketsResponse(buckets=[convert.bucket_to_pb(b) for b in buckets])

        return await _serve(context, "ListBuckets", work)

    async def SetBucketAccess(
        self, request: pb.SetBucketAccessRequest, context: Any
    ) -> pb.BucketRecord:
        async def work() -> pb.BucketRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            bucket = await self._log.submit(
                mutations.SetBucketAccess(
                    request.request_id or new_request_id(),
                    request.bucket,
                    request.field,
                    request.value,
                )
            )
            assert isinstance(bucket, BucketInfo)
            return convert.bucket_to_pb(bucket)

        return await _serve(context, "SetBucketAccess", work)

    async def SetObjectAcl(self, request: pb.SetObjectAclRequest, context: Any) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            version = await self._log.submit(
                mutations.SetObjectAcl(
                    request.request_id or new_request_id(), request.bucket, request.key, request.acl
                )
            )
            assert isinstance(version, ObjectVersion)
            return convert.version_to_pb(version)

        return await _serve(context, "SetObjectAcl", work)

    async def SetObjectLock(
        self, request: pb.SetObjectLockRequest, context: Any
    ) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            version = await self._log.submit(
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
                )
            )
            assert isinstance(version, ObjectVersion)
            return convert.version_to_pb(version)

        return await _serve(context, "SetObjectLock", work)

    # ------------------------------------------------------------ users and keys

    async def CreateUser(self, request: pb.UserName, context: Any) -> pb.UserRecord:
        async def work() -> pb.UserRecord:
            user = await self._log.submit(
                mutations.CreateUser(
                    request.request_id or new_request_id(), request.name, self._clock()
                )
            )
            assert isinstance(user, UserInfo)
            return convert.user_to_pb(user)

        return await _serve(context, "CreateUser", work)

    async def DeleteUser(self, request: pb.UserName, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            await self._log.submit(
                mutations.DeleteUser(
                    request.request_id or new_request_id(),
                    request.name,
                    access.owner_id(request.name),
                )
            )
            return pb.Empty()

        return await _serve(context, "DeleteUser", work)

    async def ListUsers(self, request: pb.Empty, context: Any) -> pb.ListUsersResponse:
        async def work() -> pb.ListUsersResponse:
            await self._consistent(_remaining(context))
            users = await self._read(self._state.list_users)
            return pb.ListUsersResponse(users=[convert.user_to_pb(u) for u in users])

        return await _serve(context, "ListUsers", work)

    async def CreateAccessKey(
        self, request: pb.CreateAccessKeyRequest, context: Any
    ) -> pb.AccessKeyRecord:
        async def work() -> pb.AccessKeyRecord:
            key = request.key
            created = await self._log.submit(
                mutations.CreateAccessKey(
                    request.request_id or new_request_id(),
                    key.access_key_id,
                    key.user,
                    bytes(key.sealed_secret).hex(),
                    self._clock(),
                )
            )
            assert isinstance(created, AccessKeyInfo)
            return convert.access_key_to_pb(created)

        return await _serve(context, "CreateAccessKey", work)

    async def RevokeAccessKey(self, request: pb.AccessKeyId, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            await self._log.submit(
                mutations.RevokeAccessKey(
                    request.request_id or new_request_id(), request.access_key_id
                )
            )
            return pb.Empty()

        return await _serve(context, "RevokeAccessKey", work)

    async def CreateKmsKey(self, request: pb.CreateKmsKeyRequest, context: Any) -> pb.KmsKeyRecord:
        async def work() -> pb.KmsKeyRecord:
            key = request.key
            created = await self._log.submit(
                mutations.CreateKmsKey(
                    request.request_id or new_request_id(),
                    key.key_id,
                    key.alias,
                    bytes(key.wrapped_key).hex(),
                    self._clock(),
                )
            )
            assert isinstance(created, KmsKeyInfo)
            return convert.kms_key_to_pb(created)

        return await _serve(context, "CreateKmsKey", work)

    async def GetKmsKey(self, request: pb.KmsKeyLookup, context: Any) -> pb.KmsKeyRecord:
        async def work() -> pb.KmsKeyRecord:
            await self._consistent(_remaining(context))
            return convert.kms_key_to_pb(await self._read(self._state.get_kms_key, request.key))

        return await _serve(context, "GetKmsKey", work)

    async def ListKmsKeys(self, request: pb.Empty, context: Any) -> pb.ListKmsKeysResponse:
        async def work() -> pb.ListKmsKeysResponse:
            await self._consistent(_remaining(context))
            found = await self._read(self._state.list_kms_keys)
            return pb.ListKmsKeysResponse(keys=[convert.kms_key_to_pb(k) for k in found])

        return await _serve(context, "ListKmsKeys", work)

    async def GetAccessKey(self, request: pb.AccessKeyId, context: Any) -> pb.AccessKeyRecord:
        async def work() -> pb.AccessKeyRecord:
            await self._consistent(_remaining(context))
            key = await self._read(self._state.get_access_key, request.access_key_id)
            return convert.access_key_to_pb(key)

        return await _serve(context, "GetAccessKey", work)

    async def ListAccessKeys(self, request: pb.UserName, context: Any) -> pb.ListAccessKeysResponse:
        async def work() -> pb.ListAccessKeysResponse:
            await self._consistent(_remaining(context))
            found = await self._read(self._state.list_access_keys, request.name)
            return pb.ListAccessKeysResponse(keys=[convert.access_key_to_pb(k) for k in found])

        return await _serve(context, "ListAccessKeys", work)

    # ------------------------------------------------------------ objects

    async def PutObject(self, request: pb.PutObjectRequest, context: Any) -> pb.PutObjectResponse:
        async def work() -> pb.PutObjectResponse:
            record = request.version
            _check_bucket(record.bucket, errors.NoSuchBucket)
            _check_key(record.key)
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
                )
            )
            if replaced is None:
                return pb.PutObjectResponse(has_replaced=False)
            assert isinstance(replaced, ObjectVersion)
            return pb.PutObjectResponse(replaced=convert.version_to_pb(replaced), has_replaced=True)

        return await _serve(context, "PutObject", work)

    async def GetObject(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            await self._consistent(_remaining(context))
            version = await self._read(self._state.get_object, request.bucket, request.key)
            return convert.version_to_pb(version)

        return await _serve(context, "GetObject", work)

    async def DeleteObject(self, request: pb.ObjectKey, context: Any) -> pb.DeleteObjectResponse:
        async def work() -> pb.DeleteObjectResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
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

        return await _serve(context, "DeleteObject", work)

    async def PutBucketVersioning(
        self, request: pb.BucketVersioningRequest, context: Any
    ) -> pb.BucketRecord:
        async def work() -> pb.BucketRecord:
            _check_bucket(request.name, errors.NoSuchBucket)
            bucket = await self._log.submit(
                mutations.PutBucketVersioning(
                    request_id=request.request_id or new_request_id(),
                    name=request.name,
                    status=request.status,
                )
            )
            assert isinstance(bucket, BucketInfo)
            return convert.bucket_to_pb(bucket)

        return await _serve(context, "PutBucketVersioning", work)

    async def GetObjectVersion(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            await self._consistent(_remaining(context))
            version = await self._read(
                self._state.get_object_version, request.bucket, request.key, request.version_id
            )
            return convert.version_to_pb(version)

        return await _serve(context, "GetObjectVersion", work)

    async def ListObjectVersions(
        self, request: pb.ListVersionsRequest, context: Any
    ) -> pb.ListVersionsResponse:
        async def work() -> pb.ListVersionsResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            await self._consistent(_remaining(context))
            page = await self._read(
                self._state.list_versions,
                request.bucket,
                request.prefix,
                request.delimiter,
                request.key_marker,
                request.version_id_marker,
                request.max_keys,
            )
            return convert.versions_page_to_pb(page)

        return await _serve(context, "ListObjectVersions", work)

    async def PutObjectTagging(self, request: pb.TaggingRequest, context: Any) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            version = await self._log.submit(
                mutations.PutObjectTagging(
                    request_id=request.request_id or new_request_id(),
                    bucket=request.bucket,
                    key=request.key,
                    version_id=request.version_id,
                    tags=dict(request.tags),
                )
            )
            assert isinstance(version, ObjectVersion)
            return convert.version_to_pb(version)

        return await _serve(context, "PutObjectTagging", work)

    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: Any
    ) -> pb.ListObjectsResponse:
        async def work() -> pb.ListObjectsResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            await self._consistent(_remaining(context))
            page = await self._read(
                self._state.list_objects,
                request.bucket,
                request.prefix,
                request.delimiter,
                request.start_after,
                request.max_keys,
            )
            return convert.page_to_pb(page)

        return await _serve(context, "ListObjects", work)

    # ------------------------------------------------------------ multipart

    async def CreateMultipartUpload(
        self, request: pb.CreateUploadRequest, context: Any
    ) -> pb.UploadRecord:
        async def work() -> pb.UploadRecord:
            upload = convert.upload_from_pb(request.upload)
            _check_bucket(upload.bucket, errors.NoSuchBucket)
            _check_key(upload.key)
            _check_upload_id(upload.upload_id)
            created = await self._log.submit(
                mutations.CreateMultipartUpload(request.request_id or new_request_id(), upload)
            )
            assert isinstance(created, MultipartUpload)
            return convert.upload_to_pb(created)

        return await _serve(context, "CreateMultipartUpload", work)

    async def GetMultipartUpload(self, request: pb.UploadKey, context: Any) -> pb.UploadRecord:
        async def work() -> pb.UploadRecord:
            _check_upload_key(request)
            await self._consistent(_remaining(context))
            upload = await self._read(
                self._state.get_upload, request.bucket, request.key, request.upload_id
            )
            return convert.upload_to_pb(upload)

        return await _serve(context, "GetMultipartUpload", work)

    async def PutPart(self, request: pb.PutPartRequest, context: Any) -> pb.PutPartResponse:
        async def work() -> pb.PutPartResponse:
            _check_upload_key(request)
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

        return await _serve(context, "PutPart", work)

    async def CompleteMultipartUpload(
        self, request: pb.CompleteUploadRequest, context: Any
    ) -> pb.CompleteUploadResponse:
        async def work() -> pb.CompleteUploadResponse:
            _check_upload_key(request)
            if not is_version_id(request.version_id):
                raise errors.InvalidArgument("version_id is required")
            if len(request.parts) > limits.PART_NUMBER_MAX:
                raise errors.InvalidArgument("A multipart upload has at most 10000 parts.")
            done = await self._log.submit(
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
                )
            )
            assert isinstance(done, CompletedUpload)
            reply = pb.CompleteUploadResponse(
                version=convert.version_to_pb(done.version),
                has_replaced=done.replaced is not None,
                unreferenced=[convert.segment_to_pb(s) for s in done.unreferenced],
            )
            if done.replaced is not None:
                reply.replaced.CopyFrom(convert.version_to_pb(done.replaced))
            return reply

        return await _serve(context, "CompleteMultipartUpload", work)

    async def AbortMultipartUpload(
        self, request: pb.UploadKey, context: Any
    ) -> pb.AbortUploadResponse:
        async def work() -> pb.AbortUploadResponse:
            _check_upload_key(request)
            released = await self._log.submit(
                mutations.AbortMultipartUpload(
                    request_id=request.request_id or new_request_id(),
                    bucket=request.bucket,
                    key=request.key,
                    upload_id=request.upload_id,
                )
            )
            assert isinstance(released, PartsReleased)
            return pb.AbortUploadResponse(parts=[convert.segment_to_pb(s) for s in released.parts])

        return await _serve(context, "AbortMultipartUpload", work)

    async def ListParts(self, request: pb.ListPartsRequest, context: Any) -> pb.ListPartsResponse:
        async def work() -> pb.ListPartsResponse:
            _check_upload_key(request)
            await self._consistent(_remaining(context))
            page = await self._read(
                self._state.list_parts,
                request.bucket,
                request.key,
                request.upload_id,
                request.part_number_marker,
                request.max_parts,
            )
            return convert.parts_page_to_pb(page)

        return await _serve(context, "ListParts", work)

    async def ListMultipartUploads(
        self, request: pb.ListUploadsRequest, context: Any
    ) -> pb.ListUploadsResponse:
        async def work() -> pb.ListUploadsResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            await self._consistent(_remaining(context))
            page = await self._read(
                self._state.list_uploads,
                request.bucket,
                request.prefix,
                request.delimiter,
                request.key_marker,
                request.upload_id_marker,
                request.max_uploads,
            )
            return convert.uploads_page_to_pb(page)

        return await _serve(context, "ListMultipartUploads", work)

    # ------------------------------------------------------------ nodes

    async def RegisterNode(self, request: pb.NodeRecord, context: Any) -> pb.ClusterMap:
        async def work() -> pb.ClusterMap:
            if not request.node_id or not request.address:
                raise errors.InvalidArgument("node_id and address are required")
            if request.weight < 0:
                raise errors.InvalidArgument("weight must not be negative")
            node = convert.node_from_pb(request)
            if await self._read(self._state.is_removed_node, node.node_id):
                raise errors.InvalidRequest(removed_message(node.node_id))
            live_revision = await self._liveness.register(node, timeout=_remaining(context))
            stored = await self._log.submit(
                mutations.RegisterNode(new_request_id(), node, live_revision)
            )
            assert isinstance(stored, NodeInfo)
            self._usage[node.node_id] = (node.capacity_bytes, node.used_bytes, self._clock())
            return convert.map_to_pb(await self._map())

        return await _serve(context, "RegisterNode", work)

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            if await self._read(self._state.is_removed_node, request.node_id):
                raise errors.InvalidRequest(removed_message(request.node_id))
            await self._liveness.heartbeat(request.node_id, timeout=_remaining(context))
            self._usage[request.node_id] = (
                request.capacity_bytes,
                request.used_bytes,
                self._clock(),
            )
            return pb.Empty()

        return await _serve(context, "Heartbeat", work)

    async def GetClusterMap(self, request: pb.Empty, context: Any) -> pb.ClusterMap:
        async def work() -> pb.ClusterMap:
            await self._consistent(_remaining(context))
            return convert.map_to_pb(await self._map())

        return await _serve(context, "GetClusterMap", work)

    # ------------------------------------------------------------ replicas

    async def FetchCheckpoint(
        self, request: pb.CheckpointRequest, context: Any
    ) -> AsyncIterator[pb.CheckpointChunk]:
        if self._replica is None:
            await abort_with(context, errors.NotImplemented("not a replicated service"))
            return
        started = time.perf_counter()
        sent = 0
        async for name, data, last in checkpoint.stream(
            self._state.db, self._replica.scratch_dir / CHECKPOINT_SCRATCH
        ):
            sent += len(data)
            yield pb.CheckpointChunk(file_name=name, data=data, end_of_file=last)
        log.info("sent a checkpoint: %d bytes in %.1f s", sent, time.perf_counter() - started)

    async def ReplicaStatus(self, request: pb.Empty, context: Any) -> pb.ReplicaStatusResponse:
        async def work() -> pb.ReplicaStatusResponse:
            position = self._state.applied_position
            digest, count = await self._read(_digest, self._state)
            return pb.ReplicaStatusResponse(
                replica_id=self._replica.replica_id if self._replica else "",
                applied_revision=revision_of(position) if self._replica else position,
                applied_position=position,
                state_digest=digest,
                key_count=count,
            )

        return await _serve(context, "ReplicaStatus", work)

    # ------------------------------------------------------------ repair

    async def ReportShardProblem(self, request: pb.ShardProblem, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            if not request.shard_set_id or not request.node_id:
                raise errors.InvalidArgument("shard_set_id and node_id are required")
            await self._log.submit(
                mutations.ReportShardProblem(
                    request_id=request.request_id or new_request_id(),
                    shard_set_id=request.shard_set_id,
                    shard_index=request.shard_index,
                    node_id=request.node_id,
                    problem=request.kind or "corrupt",
                    reported_at=self._clock(),
                )
            )
            return pb.Empty()

        return await _serve(context, "ReportShardProblem", work)

    async def RepairStatus(self, request: pb.Empty, context: Any) -> pb.RepairStatusResponse:
        async def work() -> pb.RepairStatusResponse:
            replica_id = self._replica.replica_id if self._replica else "single"
            if self.repair is None or not self.repair.is_leader:
                return pb.RepairStatusResponse(is_leader=False, replica_id=replica_id)
            return self.repair.status(replica_id)

        return await _serve(context, "RepairStatus", work)

    async def SetRepairRate(self, request: pb.SetRepairRateRequest, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            await self._log.submit(
                mutations.SetRepairRate(
                    request.request_id or new_request_id(), request.bytes_per_second
                )
            )
            return pb.Empty()

        return await _serve(context, "SetRepairRate", work)

    async def SetNodeState(self, request: pb.SetNodeStateRequest, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            await self._log.submit(
                mutations.SetNodeState(
                    request.request_id or new_request_id(), request.node_id, request.state
                )
            )
            return pb.Empty()

        return await _serve(context, "SetNodeState", work)

    async def RemoveNode(
        self, request: pb.RemoveNodeRequest, context: Any
    ) -> pb.RemoveNodeResponse:
        async def work() -> pb.RemoveNodeResponse:
            if not request.node_id:
                raise errors.InvalidArgument("node_id is required")
            await self._consistent(_remaining(context))
            view = await self._read(self._state.cluster_map)
            if view.node(request.node_id) is None:
                if await self._read(self._state.is_removed_node, request.node_id):
                    return pb.RemoveNodeResponse()  # already removed (a retry): done
                raise errors.InvalidArgument(f"no node {request.node_id!r} in the cluster map")
            found = await removal.naming(self._state, self._reads, request.node_id)
            removal.check(request.node_id, found, force=request.force)
            await self._log.submit(
                mutations.RemoveNode(
                    request.request_id or new_request_id(), request.node_id, request.force
                )
            )
            self._usage.pop(request.node_id, None)
            log.warning(
                "node %s removed from the cluster map%s; %d placements named it",
                request.node_id,
                " (forced)" if request.force else "",
                found.placements,
            )
            return pb.RemoveNodeResponse(placements=found.placements, shard_sets=found.shard_sets)

        return await _serve(context, "RemoveNode", work)

    async def ReadmitNode(self, request: pb.SetNodeStateRequest, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            await self._log.submit(
                mutations.ReadmitNode(request.request_id or new_request_id(), request.node_id)
            )
            return pb.Empty()

        return await _serve(context, "ReadmitNode", work)

    # ------------------------------------------------------------ helpers

    async def serve(self, context: Any, method: str, work: Callable[[], Awaitable[T]]) -> T:
        return await _serve(context, method, work)

    def _remaining(self, context: Any) -> float:
        return _remaining(context)

    async def _consistent(self, timeout: float) -> None:  # noqa: ASYNC109
        """The read index: waits until the log's current head is applied here."""
        if self._replica is None:
            return
        started = time.perf_counter()
        await self._replica.read_index(timeout)
        metrics.READ_INDEX_DURATION.observe(time.perf_counter() - started)

    async def _map(self) -> ClusterMapView:
        view = await self._read(self._state.cluster_map)
        nodes = []
        for node in view.nodes:
            usage = self._usage.get(node.node_id)
            if usage is not None:
                node = dataclasses.replace(
                    node, capacity_bytes=usage[0], used_bytes=usage[1], last_heartbeat=usage[2]
                )
            nodes.append(node)
        self._count_nodes(view)
        return ClusterMapView(epoch=view.epoch, nodes=tuple(nodes))

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    def _count_nodes(self, view: ClusterMapView) -> None:
        counts: dict[str, int] = {}
        for node in view.nodes:
            counts[node.state] = counts.get(node.state, 0) + 1
        for state in ("up", "down", "draining"):
            metrics.NODES.labels(state).set(counts.get(state, 0))


def _remaining(context: Any) -> float:
    """The call's remaining deadline (a default when the caller set none)."""
    remaining = context.time_remaining() if context is not None else None
    if remaining is None:
        return SERVER_TIMEOUT_DEFAULT_SECONDS
    return max(0.0, min(float(remaining), limits.METADATA_CALL_TIMEOUT_SECONDS * 6))


def _digest(state: StateMachine) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for key, value in state.items_for_digest():
        digest.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        count += 1
    return digest.hexdigest(), count


async def _serve(context: Any, method: str, work: Callable[[], Awaitable[T]]) -> T:
    """Runs a handler body; TesseraErrors become the call's status and S3 code."""
    started = time.perf_counter()
    code = "OK"
    try:
        return await work()
    except errors.TesseraError as exc:
        code = exc.code
        await abort_with(context, exc)
        raise
    except asyncio.CancelledError:
        code = "Cancelled"
        raise
    except Exception:
        code = "InternalError"
        log.exception("metadata %s failed", method)
        await abort_with(context, errors.InternalError())
        raise
    finally:
        metrics.RPC_DURATION.labels(method, code).observe(time.perf_counter() - started)


def _check_bucket(name: str, error: type[errors.TesseraError]) -> None:
    if not name or "\x00" in name or "/" in name or len(name.encode()) > BUCKET_NAME_MAX_BYTES:
        raise error()


def _check_key(key: str) -> None:
    if not key:
        raise errors.InvalidArgument("object key must not be empty")
    if len(key.encode()) > limits.KEY_LENGTH_MAX_BYTES:
        raise errors.KeyTooLongError()


def _check_upload_id(upload_id: str) -> None:
    if not is_version_id(upload_id):
        raise errors.NoSuchUpload("The upload id is not one this service issued.")


def _check_upload_key(request: Any) -> None:
    """bucket, key and upload_id of a request naming one upload."""
    _check_bucket(request.bucket, errors.NoSuchBucket)
    _check_key(request.key)
    _check_upload_id(request.upload_id)


def add_to_server(service: MetadataService, server: grpc.aio.Server) -> None:
    pb_grpc.add_MetadataServicer_to_server(service, server)
