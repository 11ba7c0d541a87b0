"""The object read pipeline: shard streams → (decode if needed) → bytes.

read_stripes yields the data of stripes [span.stripe_start, +stripe_count) of a
version, in order. It reads the k data shards when it can (zfec is systematic:
no decoding then). A shard stream that fails, is slow, or delivers a chunk
whose CRC32C does not match is dropped and replaced by a spare shard opened at
the current stripe; that stripe and the following ones are decoded from any k
chunks. Corrupt bytes are never yielded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from concurrent.futures import Executor

import grpc.aio

from gateway import metrics
from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from proto import tessera_pb2 as pb
from tessera import errors
from tessera.checksum import crc32c
from tessera.codec import decode_stripe
from tessera.geometry import StripeSpan
from tessera.model import ObjectVersion

log = logging.getLogger(__name__)

SLOW_CHUNK_SECONDS = 10.0  # a shard that takes longer for one chunk is replaced


class ShardReadError(Exception):
    """One shard could not deliver a verified chunk."""


class ShardStream:
    """A GetShard call over a run of stripes, yielding verified chunks."""

    def __init__(
        self,
        cluster: ClusterView,
        version: ObjectVersion,
        shard_index: int,
        stripe_start: int,
        stripe_count: int,
        timeout_seconds: float,
    ) -> None:
        self.shard_index = shard_index
        self._next_stripe = stripe_start
        node_id = version.node_for_shard(shard_index)
        stub = cluster.stub(node_id) if node_id else None
        self._call = None
        if stub is not None:
            self._call = stub.GetShard(
                pb.GetShardRequest(
                    version_id=version.version_id,
                    shard_index=shard_index,
                    stripe_start=stripe_start,
                    stripe_count=stripe_count,
                ),
                timeout=timeout_seconds,
                metadata=cluster.call_metadata,
            )
        self.node_id = node_id

    async def read(self) -> bytes:
        if self._call is None:
            raise ShardReadError(f"shard {self.shard_index}: node unknown")
        try:
            msg = await asyncio.wait_for(self._call.read(), SLOW_CHUNK_SECONDS)
        except TimeoutError as exc:
            raise ShardReadError(f"shard {self.shard_index}: slow") from exc
        except grpc.aio.AioRpcError as exc:
            raise ShardReadError(f"shard {self.shard_index}: {exc.code().name}") from exc
        if msg is grpc.aio.EOF:  # type: ignore[attr-defined]
            raise ShardReadError(f"shard {self.shard_index}: ended early")
        assert isinstance(msg, pb.Chunk)
        if msg.stripe_index != self._next_stripe:
            raise ShardReadError(f"shard {self.shard_index}: out of order")
        if crc32c(msg.data) != msg.crc32c:
            metrics.CHECKSUM_FAILURES.inc()
            raise ShardReadError(f"shard {self.shard_index}: checksum mismatch")
        self._next_stripe += 1
        return msg.data

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()


def _shard_order(cluster: ClusterView, version: ObjectVersion) -> list[int]:
    """Shard indexes to try: data shards on up nodes, then parity on up nodes,
    then anything left (the map may be stale)."""
    present = sorted(loc.shard_index for loc in version.placement)
    k = version.data_shards

    def rank(i: int) -> tuple[int, int]:
        node = version.node_for_shard(i)
        up = node is not None and cluster.is_up(node)
        return (0 if up else 1, 0 if i < k else 1)

    return sorted(present, key=lambda i: (*rank(i), i))


async def read_stripes(
    *,
    cluster: ClusterView,
    version: ObjectVersion,
    span: StripeSpan,
    executor: Executor,
    deadline: Deadline,
) -> AsyncGenerator[bytes, None]:
    geometry = version.geometry
    k = geometry.data_shards
    end = span.stripe_start + span.stripe_count
    spares = _shard_order(cluster, version)
    active: dict[int, ShardStream] = {}

    def open_streams(count: int, stripe: int) -> dict[int, ShardStream]:
        opened: dict[int, ShardStream] = {}
        while spares and len(opened) < count:
            i = spares.pop(0)
            opened[i] = ShardStream(cluster, version, i, stripe, end - stripe, deadline.remaining())
        active.update(opened)
        return opened

    loop = asyncio.get_running_loop()
    try:
        open_streams(k, span.stripe_start)
        for stripe in range(span.stripe_start, end):
            chunks: dict[int, bytes] = {}
            pending = dict(active)
            while True:
                results = await asyncio.gather(
                    *(s.read() for s in pending.values()), return_exceptions=True
                )
                for (i, stream), result in zip(pending.items(), results, strict=True):
                    if isinstance(result, bytes):
                        chunks[i] = result
                    elif isinstance(result, ShardReadError):
                        log.warning(
                            "%s/%s v%s: %s", version.bucket, version.key, version.version_id, result
                        )
                        stream.cancel()
                        del active[i]
                    else:
                        raise result
                if len(chunks) >= k:
                    break
                pending = open_streams(k - len(chunks), stripe)
                if not pending:
                    raise errors.ServiceUnavailable(
                        f"only {len(chunks)} of the {k} shards needed are readable"
                    )
            data_bytes = geometry.stripe_data_bytes(version.size_bytes, stripe)
            if all(i in chunks for i in range(k)):
                yield b"".join(chunks[i] for i in range(k))[:data_bytes]
            else:
                metrics.DEGRADED_READS.inc()
                yield await loop.run_in_executor(
                    executor, decode_stripe, chunks, geometry, data_bytes
                )
            metrics.SHARDS_READ.inc(len(chunks))
    finally:
        for stream in active.values():
            stream.cancel()
