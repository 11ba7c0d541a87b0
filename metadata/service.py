"""The Metadata gRPC servicer: the protobuf edge of the state, the log and liveness.

Writes become mutations submitted to the log (a request id is generated when
the caller sent none); reads run on the bounded read executor against the
applied state; heartbeats and the cluster map are served from liveness.

Invariants: every S3 error reaches the caller through proto.rpc.abort_with, so
the gateway sees the exact S3 code; anything else is logged and answered as
InternalError; a bucket name that could alias another bucket's keyspace (empty,
or holding NUL or "/") never reaches the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc.aio

from metadata import metrics, mutations
from metadata.commit import MutationLog
from metadata.liveness import Liveness, Transition
from metadata.state import StateMachine
from proto import convert
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.rpc import abort_with
from tessera import errors, limits
from tessera.ids import new_request_id
from tessera.model import BucketInfo, NodeInfo, ObjectVersion

log = logging.getLogger(__name__)

T = TypeVar("T")

BUCKET_NAME_MAX_BYTES = 255  # S3 allows 63; legacy names up to 255 — the gateway decides


class MetadataService(pb_grpc.MetadataServicer):  # type: ignore[misc]
    def __init__(
        self,
        state: StateMachine,
        mutation_log: MutationLog,
        liveness: Liveness,
        reads: Executor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._log = mutation_log
        self._liveness = liveness
        self._reads = reads
        self._clock = clock

    def refresh_liveness(self) -> None:
        """Recomputes node states (called periodically) and updates the gauge."""
        self._note(self._liveness.refresh(self._clock()))

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
            bucket = await self._read(self._state.get_bucket, request.name)
            return convert.bucket_to_pb(bucket)

        return await _serve(context, "GetBucket", work)

    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: Any
    ) -> pb.ListBucketsResponse:
        async def work() -> pb.ListBucketsResponse:
            buckets = await self._read(self._state.list_buckets, request.owner)
            return pb.ListBucketsResponse(buckets=[convert.bucket_to_pb(b) for b in buckets])

        return await _serve(context, "ListBuckets", work)

    # ------------------------------------------------------------ objects

    async def PutObject(self, request: pb.ObjectRecord, context: Any) -> pb.PutObjectResponse:
        async def work() -> pb.PutObjectResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            if not request.version_id:
                raise errors.InvalidArgument("version_id is required")
            version = convert.version_from_pb(request)
            request_id = version.request_id or new_request_id()
            replaced = await self._log.submit(mutations.PutObject(request_id, version))
            if replaced is None:
                return pb.PutObjectResponse(has_replaced=False)
            assert isinstance(replaced, ObjectVersion)
            return pb.PutObjectResponse(replaced=convert.version_to_pb(replaced), has_replaced=True)

        return await _serve(context, "PutObject", work)

    async def GetObject(self, request: pb.ObjectKey, context: Any) -> pb.ObjectRecord:
        async def work() -> pb.ObjectRecord:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            version = await self._read(self._state.get_object, request.bucket, request.key)
            return convert.version_to_pb(version)

        return await _serve(context, "GetObject", work)

    async def DeleteObject(self, request: pb.ObjectKey, context: Any) -> pb.DeleteObjectResponse:
        async def work() -> pb.DeleteObjectResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
            _check_key(request.key)
            deleted = await self._log.submit(
                mutations.DeleteObject(
                    request_id=request.request_id or new_request_id(),
                    bucket=request.bucket,
                    key=request.key,
                )
            )
            if deleted is None:
                return pb.DeleteObjectResponse(existed=False)
            assert isinstance(deleted, ObjectVersion)
            return pb.DeleteObjectResponse(deleted=convert.version_to_pb(deleted), existed=True)

        return await _serve(context, "DeleteObject", work)

    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: Any
    ) -> pb.ListObjectsResponse:
        async def work() -> pb.ListObjectsResponse:
            _check_bucket(request.bucket, errors.NoSuchBucket)
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

    # ------------------------------------------------------------ nodes

    async def RegisterNode(self, request: pb.NodeRecord, context: Any) -> pb.ClusterMap:
        async def work() -> pb.ClusterMap:
            if not request.node_id or not request.address:
                raise errors.InvalidArgument("node_id and address are required")
            if request.weight < 0:
                raise errors.InvalidArgument("weight must not be negative")
            node = convert.node_from_pb(request)
            # Registering is an upsert, so a retry needs no idempotency record.
            stored = await self._log.submit(mutations.RegisterNode(request_id="", node=node))
            assert isinstance(stored, NodeInfo)
            now = self._clock()
            self._note(self._liveness.registered(stored, now))
            return convert.map_to_pb(self._liveness.view(now))

        return await _serve(context, "RegisterNode", work)

    async def Heartbeat(self, request: pb.HeartbeatRequest, context: Any) -> pb.Empty:
        async def work() -> pb.Empty:
            self._note(
                self._liveness.heartbeat(
                    request.node_id, request.capacity_bytes, request.used_bytes, self._clock()
                )
            )
            return pb.Empty()

        return await _serve(context, "Heartbeat", work)

    async def GetClusterMap(self, request: pb.Empty, context: Any) -> pb.ClusterMap:
        async def work() -> pb.ClusterMap:
            now = self._clock()
            self._note(self._liveness.refresh(now))
            return convert.map_to_pb(self._liveness.view(now))

        return await _serve(context, "GetClusterMap", work)

    # ------------------------------------------------------------ helpers

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    def _note(self, transitions: list[Transition]) -> None:
        for t in transitions:
            log.info(
                "node %s: %s -> %s (map epoch %d)",
                t.node_id,
                t.old_state or "new",
                t.new_state,
                self._liveness.epoch,
            )
        counts = self._liveness.counts_by_state()
        for state in ("up", "down", "draining"):
            metrics.NODES.labels(state).set(counts.get(state, 0))


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


def add_to_server(service: MetadataService, server: grpc.aio.Server) -> None:
    pb_grpc.add_MetadataServicer_to_server(service, server)
