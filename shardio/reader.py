"""Reading the stripes of a version from its shards, tolerating failures.

read_stripes yields the data of stripes [span.stripe_start, +stripe_count), in
order. It opens k streams on the preferred sources (data shards first: zfec
is systematic, so no decoding is needed while they are healthy). A stream
that fails, is slow, or delivers a chunk whose CRC32C does not match is
dropped and replaced by the next source, opened at the current stripe; from
then on stripes are decoded from any k chunks. Corrupt bytes are never
yielded: when fewer than k shards can deliver, ServiceUnavailable is raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import grpc.aio

from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from tessera import errors
from tessera.checksum import crc32c
from tessera.codec import decode_stripe
from tessera.geometry import Geometry, StripeSpan

log = logging.getLogger(__name__)

# A shard that takes longer than this for one chunk is replaced by a spare: a
# hung node costs a read this, not the failure-detection grace period.
SLOW_CHUNK_SECONDS = 3.0


@dataclass(frozen=True)
class ShardSource:
    shard_index: int
    stub: pb_grpc.NodeStub | None  # None: the node is unknown (the shard is unreachable)
    label: str  # for logs: the node id or address


class ReadObserver(Protocol):
    def checksum_failure(self) -> None: ...

    def degraded_stripe(self) -> None: ...

    def chunks_read(self, count: int) -> None: ...

    def shard_failure(self, source: ShardSource, reason: str) -> None: ...


class ShardReadError(Exception):
    """One shard could not deliver a verified chunk."""


class ShardStream:
    """A GetShard call over a run of stripes, yielding verified chunks."""

    def __init__(
        self,
        source: ShardSource,
        version_id: str,
        stripe_start: int,
        stripe_count: int,
        call_metadata: tuple[tuple[str, str], ...],
        timeout_seconds: float,
        observer: ReadObserver,
    ) -> None:
        self.source = source
        self._next_stripe = stripe_start
        self._observer = observer
        self._call = None
        if source.stub is not None:
            self._call = source.stub.GetShard(
                pb.GetShardRequest(
                    version_id=version_id,
                    shard_index=source.shard_index,
                    stripe_start=stripe_start,
                    stripe_count=stripe_count,
                ),
                timeout=timeout_seconds,
                metadata=call_metadata,
            )

    async def read(self) -> bytes:
        if self._call is None:
            raise ShardReadError("node unknown")
        try:
            msg = await asyncio.wait_for(self._call.read(), SLOW_CHUNK_SECONDS)
        except TimeoutError as exc:
            raise ShardReadError("slow") from exc
        except grpc.aio.AioRpcError as exc:
            raise ShardReadError(exc.code().name) from exc
        if msg is grpc.aio.EOF:  # type: ignore[attr-defined]
            raise ShardReadError("ended early")
        assert isinstance(msg, pb.Chunk)
        if msg.stripe_index != self._next_stripe:
            raise ShardReadError("out of order")
        data = msg.data  # each access to a bytes field is a fresh copy (upb): take one
        if crc32c(data) != msg.crc32c:
            self._observer.checksum_failure()
            raise ShardReadError("checksum mismatch")
        self._next_stripe += 1
        return data

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()


async def read_stripes(
    *,
    sources: Sequence[ShardSource],
    version_id: str,
    geometry: Geometry,
    size_bytes: int,
    span: StripeSpan,
    executor: Executor,
    call_metadata: tuple[tuple[str, str], ...],
    timeout_seconds: Callable[[], float],
    observer: ReadObserver,
) -> AsyncGenerator[bytes, None]:
    """Yields each stripe's data; sources in order of preference."""
    k = geometry.data_shards
    end = span.stripe_start + span.stripe_count
    spares = list(sources)
    active: dict[int, ShardStream] = {}

    def open_streams(count: int, stripe: int) -> dict[int, ShardStream]:
        opened: dict[int, ShardStream] = {}
        while spares and len(opened) < count:
            source = spares.pop(0)
            opened[source.shard_index] = ShardStream(
                source,
                version_id,
                stripe,
                end - stripe,
                call_metadata,
                timeout_seconds(),
                observer,
            )
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
                        observer.shard_failure(stream.source, str(result))
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
            observer.chunks_read(len(chunks))
            data_bytes = geometry.stripe_data_bytes(size_bytes, stripe)
            if all(i in chunks for i in range(k)):
                yield b"".join(chunks[i] for i in range(k))[:data_bytes]
            else:
                observer.degraded_stripe()
                yield await loop.run_in_executor(
                    executor, decode_stripe, chunks, geometry, data_bytes
                )
    finally:
        for stream in active.values():
            stream.cancel()
