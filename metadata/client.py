"""MetadataClient: the async client the gateway and the nodes use to reach metadata.

Every method takes a required ``timeout`` (seconds: the caller's remaining
deadline — gRPC has none by default) and raises TesseraError subclasses: the
exact S3 error the service decided on, ServiceUnavailable when it could not be
reached in time.

Invariants: a call that failed in transport (UNAVAILABLE with no S3 code: the
service down, restarting, or the connection cut) is retried with backoff
within the timeout, with the same request id, so a mutation that did land the
first time is not applied twice; nothing is retried past the caller's deadline.
"""

# Every method takes the caller's remaining deadline as `timeout` and hands it to
# gRPC as the call's deadline (STYLE: one deadline per request, set at the edge).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import grpc.aio

from proto import convert
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.rpc import S3_CODE_HEADER, call_metadata, error_from_rpc, new_channel
from tessera import errors
from tessera.ids import new_request_id
from tessera.model import BucketInfo, ClusterMapView, ListPage, NodeInfo, ObjectVersion

R = TypeVar("R")

RETRY_BACKOFF_FIRST_SECONDS = 0.05
RETRY_BACKOFF_MAX_SECONDS = 1.0


class MetadataClient:
    def __init__(self, address: str, secret: str) -> None:
        self._channel = new_channel(address)
        self._stub = pb_grpc.MetadataStub(self._channel)
        self._metadata = call_metadata(secret)

    async def __aenter__(self) -> MetadataClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close(None)

    # ------------------------------------------------------------ buckets

    async def create_bucket(
        self, name: str, owner: str, *, timeout: float, request_id: str = ""
    ) -> BucketInfo:
        request = pb.CreateBucketRequest(
            name=name, owner=owner, request_id=request_id or new_request_id()
        )
        return convert.bucket_from_pb(await self._call(self._stub.CreateBucket, request, timeout))

    async def delete_bucket(self, name: str, *, timeout: float, request_id: str = "") -> None:
        request = pb.BucketName(name=name, request_id=request_id or new_request_id())
        await self._call(self._stub.DeleteBucket, request, timeout)

    async def get_bucket(self, name: str, *, timeout: float) -> BucketInfo:
        reply = await self._call(self._stub.GetBucket, pb.BucketName(name=name), timeout)
        return convert.bucket_from_pb(reply)

    async def list_buckets(self, owner: str, *, timeout: float) -> list[BucketInfo]:
        """The owner's buckets in name order (every bucket when owner is empty)."""
        reply = await self._call(
            self._stub.ListBuckets, pb.ListBucketsRequest(owner=owner), timeout
        )
        return [convert.bucket_from_pb(b) for b in reply.buckets]

    # ------------------------------------------------------------ objects

    async def put_object(self, version: ObjectVersion, *, timeout: float) -> ObjectVersion | None:
        """Commits version as its key's current one; returns the record it replaced.

        version.request_id is the idempotency key (one is generated when empty):
        set it yourself to make your own retries of the same commit safe.
        """
        if not version.request_id:
            version = dataclasses.replace(version, request_id=new_request_id())
        reply = await self._call(self._stub.PutObject, convert.version_to_pb(version), timeout)
        return convert.version_from_pb(reply.replaced) if reply.has_replaced else None

    async def get_object(self, bucket: str, key: str, *, timeout: float) -> ObjectVersion:
        request = pb.ObjectKey(bucket=bucket, key=key)
        return convert.version_from_pb(await self._call(self._stub.GetObject, request, timeout))

    async def delete_object(
        self, bucket: str, key: str, *, timeout: float, request_id: str = ""
    ) -> ObjectVersion | None:
        """Deletes the key's current version; returns it (None if there was none)."""
        request = pb.ObjectKey(bucket=bucket, key=key, request_id=request_id or new_request_id())
        reply = await self._call(self._stub.DeleteObject, request, timeout)
        return convert.version_from_pb(reply.deleted) if reply.existed else None

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        *,
        timeout: float,
    ) -> ListPage:
        request = pb.ListObjectsRequest(
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            start_after=start_after,
            max_keys=max_keys,
        )
        return convert.page_from_pb(await self._call(self._stub.ListObjects, request, timeout))

    # ------------------------------------------------------------ nodes

    async def register_node(self, info: NodeInfo, *, timeout: float) -> ClusterMapView:
        reply = await self._call(self._stub.RegisterNode, convert.node_to_pb(info), timeout)
        return convert.map_from_pb(reply)

    async def heartbeat(
        self, node_id: str, capacity_bytes: int, used_bytes: int, *, timeout: float
    ) -> None:
        request = pb.HeartbeatRequest(
            node_id=node_id, capacity_bytes=capacity_bytes, used_bytes=used_bytes
        )
        await self._call(self._stub.Heartbeat, request, timeout)

    async def get_cluster_map(self, *, timeout: float) -> ClusterMapView:
        return convert.map_from_pb(await self._call(self._stub.GetClusterMap, pb.Empty(), timeout))

    # ------------------------------------------------------------ transport

    async def _call(self, method: Callable[..., Awaitable[R]], request: Any, timeout: float) -> R:
        deadline = time.monotonic() + timeout
        backoff = RETRY_BACKOFF_FIRST_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.ServiceUnavailable("metadata call ran out of time")
            try:
                return await method(request, timeout=remaining, metadata=self._metadata)
            except grpc.aio.AioRpcError as exc:
                if not _transport_unavailable(exc) or remaining <= backoff:
                    raise error_from_rpc(exc) from exc
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF_MAX_SECONDS)


def _transport_unavailable(exc: grpc.aio.AioRpcError) -> bool:
    """UNAVAILABLE from the connection (not an S3 503 the service chose to answer)."""
    if exc.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    trailers: Any = exc.trailing_metadata() or ()
    return all(key != S3_CODE_HEADER for key, _ in trailers)
