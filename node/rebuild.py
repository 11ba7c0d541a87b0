"""Rebuilding one shard on this node from its peers (the executing half of
repair; metadata decides what to rebuild where).

The stripes are read from any k of the sources through shardio.reader (which
fails over and decodes, never passing corrupt bytes), this shard's chunk of
each stripe is recomputed (tessera/codec.py: zfec's code, through ISA-L where
present), and the shard is written through the store exactly as a PutShard
would: temp file, fsync, rename, fsync folder.
Nothing is visible unless every stripe was rebuilt.

A move (drain, rebalance) names the shard's current holder among the sources
with this very shard index: its chunks are then copied as they are (one byte
read per byte stored, each chunk's CRC32C checked on arrival); if that copy
fails part-way, the shard is rebuilt from the other sources instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import Executor

from node import metrics
from node.shard_format import ShardMeta
from node.store import ShardStore, ShardWriter
from proto import rpc
from proto.node_rpc import NodeStub
from shardio import hedging, reader
from tessera import errors
from tessera.checksum import crc32c
from tessera.codec import encode_stripe
from tessera.geometry import Geometry, StripeSpan

log = logging.getLogger(__name__)


class _Observer:
    def __init__(self) -> None:
        self.read_bytes = 0

    def checksum_failure(self) -> None:
        metrics.CHECKSUM_FAILURES.labels(stage="rebuild").inc()

    def degraded_stripe(self) -> None:
        pass

    def chunks_read(self, count: int) -> None:
        pass

    def shard_failure(self, source: reader.ShardSource, reason: str) -> None:
        log.warning(
            "rebuild: source shard %d at %s failed: %s", source.shard_index, source.label, reason
        )

    def hedged(self, count: int) -> None:
        pass

    def straggler_dropped(self, source: reader.ShardSource) -> None:
        log.info("rebuild: source shard %d at %s was slow", source.shard_index, source.label)


def _chunk_of(data: bytes, geometry: Geometry, shard_index: int) -> tuple[bytes, int]:
    chunk = encode_stripe(data, geometry)[shard_index]
    return chunk, crc32c(chunk)


async def rebuild_shard(
    *,
    store: ShardStore,
    executor: Executor,
    meta: ShardMeta,
    sources: list[tuple[int, str]],
    secret: str,
    timeout_seconds: float,
    trailer: bytes = b"",
) -> tuple[int, int]:
    """Makes meta's shard from sources [(shard index, address)]: a copy from a
    source with the same index when there is one, else (or when that copy
    fails) a rebuild from the others; returns (stored bytes, chunk bytes read).
    trailer: written at the end of the new shard (docs/metadata-recovery.md)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    channels = {address: rpc.new_channel(address) for _, address in sources}
    observer = _Observer()
    try:
        for index, address in sources:
            if index != meta.shard_index:
                continue
            source = reader.ShardSource(index, NodeStub(channels[address]), address)
            try:
                return await _copy(
                    store, executor, meta, source, secret, deadline, observer, trailer
                )
            except reader.ShardReadError as exc:
                observer.shard_failure(source, f"copy failed: {exc}")
        others = [
            reader.ShardSource(index, NodeStub(channels[address]), address)
            for index, address in sources
            if index != meta.shard_index
        ]
        return await _rebuild(store, executor, meta, others, secret, deadline, observer, trailer)
    finally:
        for channel in channels.values():
            await channel.close(None)


async def _copy(
    store: ShardStore,
    executor: Executor,
    meta: ShardMeta,
    source: reader.ShardSource,
    secret: str,
    deadline: float,
    observer: _Observer,
    trailer: bytes,
) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    run = functools.partial(loop.run_in_executor, executor)
    stream = reader.ShardStream(
        source,
        meta.version_id,
        0,
        meta.stripe_count,
        rpc.call_metadata(secret),
        max(0.001, deadline - loop.time()),
        observer,
    )
    writer: ShardWriter | None = await run(store.begin_write, meta)
    try:
        read = 0
        for stripe_index in range(meta.stripe_count):
            chunk = await stream.read()  # CRC32C checked; raises ShardReadError
            read += len(chunk)
            assert writer is not None
            await run(writer.append, stripe_index, chunk, crc32c(chunk))
        assert writer is not None
        stored = await run(writer.commit, meta.stripe_count, trailer)
        writer = None
        metrics.SHARDS_REBUILT.inc()
        return stored, read
    finally:
        stream.cancel()
        if writer is not None:
            await asyncio.shield(run(writer.abort))


async def _rebuild(
    store: ShardStore,
    executor: Executor,
    meta: ShardMeta,
    shard_sources: list[reader.ShardSource],
    secret: str,
    deadline: float,
    observer: _Observer,
    trailer: bytes,
) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    run = functools.partial(loop.run_in_executor, executor)
    geometry = meta.geometry
    if len(shard_sources) < geometry.data_shards:
        raise errors.ServiceUnavailable(
            f"{len(shard_sources)} sources for a rebuild that needs {geometry.data_shards}"
        )
    writer: ShardWriter | None = await run(store.begin_write, meta)
    try:
        stripes = reader.joined(
            reader.read_stripe_pieces(
                sources=shard_sources,
                version_id=meta.version_id,
                geometry=geometry,
                size_bytes=meta.object_size_bytes,
                span=StripeSpan(0, meta.stripe_count, 0, meta.object_size_bytes),
                executor=executor,
                call_metadata=rpc.call_metadata(secret),
                timeout_seconds=lambda: max(0.001, deadline - loop.time()),
                observer=observer,
                hedge=hedging.PROCESS_POLICY,
            )
        )
        try:
            stripe_index = 0
            async for data in stripes:
                observer.read_bytes += len(data)
                chunk, chunk_crc = await run(_chunk_of, data, geometry, meta.shard_index)
                assert writer is not None
                await run(writer.append, stripe_index, chunk, chunk_crc)
                stripe_index += 1
        finally:
            await stripes.aclose()
        assert writer is not None
        stored = await run(writer.commit, meta.stripe_count, trailer)
        writer = None
        metrics.SHARDS_REBUILT.inc()
        return stored, observer.read_bytes
    finally:
        if writer is not None:
            await asyncio.shield(run(writer.abort))
