"""The Metadata gRPC servicer: the protobuf edge of the state, the log and liveness.

MetadataService is composed of one mixin per area, each on ServiceCore
(service_core.py: construction, the call edge, strong reads and submits):

bucket_service   buckets and their settings (access, versioning)
object_service   object versions, their ACL, tags and locks, the listings
upload_service   multipart uploads and their parts
user_service     users, access keys, KMS keys
cluster_service  the cluster map, nodes, repair, node states and removal
usage_service    usage reports and quotas

This module keeps what belongs to the replica itself (its checkpoint and its
status), the stream of unary calls (Calls: each request served by the
handler of the method it names, proto/metadata_calls.py) and the adapter
from LocalLiveness to the LivenessSource protocol.

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

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc.aio

from metadata import checkpoint, liveness
from metadata.bucket_service import BucketRpcs
from metadata.cluster_service import ClusterRpcs
from metadata.liveness import LiveSet
from metadata.logformat import revision_of
from metadata.object_service import ObjectRpcs
from metadata.service_core import Replica, remaining, rpc
from metadata.state import StateMachine
from metadata.upload_service import UploadRpcs
from metadata.usage_service import UsageRpcs
from metadata.user_service import UserRpcs
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.metadata_calls import serve_calls
from proto.rpc import abort_with
from tessera import errors
from tessera.model import NodeInfo

__all__ = ["LocalLivenessSource", "MetadataService", "Replica", "add_to_server"]

log = logging.getLogger(__name__)

CHECKPOINT_SCRATCH = "checkpoints"


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


class MetadataService(  # type: ignore[misc]
    BucketRpcs,
    ObjectRpcs,
    UploadRpcs,
    UserRpcs,
    ClusterRpcs,
    UsageRpcs,
    pb_grpc.MetadataServicer,
):
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

    async def Calls(
        self, requests: AsyncIterator[pb.CallRequests], context: Any
    ) -> AsyncIterator[pb.CallAnswers]:
        """Unary calls over one stream (proto/metadata_calls.py): each
        request served by this servicer's own handler of the method it names."""
        async for answer in serve_calls(self, requests, self.closing):
            yield answer

    async def RecordLeases(
        self, requests: AsyncIterator[pb.RecordLeaseRequest], context: Any
    ) -> AsyncIterator[pb.RecordLeaseNotice]:
        """A gateway's record leases and their invalidations
        (metadata/record_leases.py); ends when the replica starts to stop."""
        grants = self._replica.record_leases if self._replica is not None else None
        if grants is None:
            await abort_with(context, errors.NotImplemented("this replica grants no record leases"))
            return
        async for notice in grants.serve(requests, self.closing):
            yield notice

    @rpc
    async def ReplicaStatus(self, request: pb.Empty, context: Any) -> pb.ReplicaStatusResponse:
        position = self._state.applied_position
        digest, count = await self._read(_digest, self._state)
        return pb.ReplicaStatusResponse(
            replica_id=self._replica.replica_id if self._replica else "",
            applied_revision=revision_of(position) if self._replica else position,
            applied_position=position,
            state_digest=digest,
            key_count=count,
        )

    @rpc
    async def WaitApplied(self, request: pb.WaitAppliedRequest, context: Any) -> pb.Empty:
        if self._replica is None:
            raise errors.NotImplemented("not a replicated service")
        await self._replica.wait_applied(request.revision, remaining(context))
        return pb.Empty()


def _digest(state: StateMachine) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for key, value in state.items_for_digest():
        digest.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        count += 1
    return digest.hexdigest(), count


def add_to_server(service: MetadataService, server: grpc.aio.Server) -> None:
    pb_grpc.add_MetadataServicer_to_server(service, server)
