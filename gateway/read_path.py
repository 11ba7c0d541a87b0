"""The object read pipeline of the gateway: a version's shard sets → its bytes.

A version's data is its shard sets concatenated (one for a single-part
version, one per part for a multipart one); read_range touches only the shard
sets, and within them only the stripes, that a byte range needs — and for a
range inside one stripe, only the data chunks it needs (needed_columns). Sources are
ordered data shards on up nodes first, then parity shards on up nodes, then
shards on up nodes that hedged reads found slow (gateway/slow_nodes.py), then
anything left (the map may be stale); shardio.reader does the reading,
failing over, hedging and decoding.

An encrypted version's shard sets hold sealed streams (tessera/sse.py): a
plaintext range maps to the sealed stripes (blocks) it touches, each opened
(its GCM tag checked) before any of its bytes is yielded.

Invariant: read_range yields exactly bytes first..last of the version, in
order, or raises; never a wrong byte.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from concurrent.futures import Executor

from gateway import metrics
from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from proto.wire import Buffer
from shardio import hedging, reader
from tessera import errors
from tessera.geometry import StripeSpan, span_for_range
from tessera.model import ObjectVersion, ShardSet
from tessera.multipart import segment_ranges
from tessera.sse import BlockCipher, SealBroken, block_count, span_for_plain_range

log = logging.getLogger(__name__)


class _MetricsObserver:
    def __init__(self, version: ObjectVersion, shard_set_id: str, cluster: ClusterView) -> None:
        self._version = version
        self._shard_set_id = shard_set_id
        self._cluster = cluster

    def checksum_failure(self) -> None:
        metrics.CHECKSUM_FAILURES.inc()

    def degraded_stripe(self) -> None:
        metrics.DEGRADED_READS.inc()

    def chunks_read(self, count: int) -> None:
        metrics.SHARDS_READ.inc(count)

    def shard_failure(self, source: reader.ShardSource, reason: str) -> None:
        metrics.SHARD_READ_FAILURES.labels(reason=reason).inc()
        v = self._version
        log.warning(
            "%s/%s v%s (shard set %s): shard %d on %s: %s",
            v.bucket,
            v.key,
            v.version_id,
            self._shard_set_id,
            source.shard_index,
            source.label,
            reason,
        )

    def hedged(self, count: int) -> None:
        metrics.HEDGED_READS.inc(count)

    def straggler_dropped(self, source: reader.ShardSource) -> None:
        metrics.STRAGGLERS_DROPPED.inc()
        if self._cluster.slow.straggled(source.label):
            metrics.NODES_MARKED_SLOW.inc()


def shard_sources(cluster: ClusterView, shard_set: ShardSet) -> list[reader.ShardSource]:
    k = shard_set.geometry.data_shards

    def rank(node_id: str, shard_index: int) -> tuple[int, int, int]:
        health = 2 if not cluster.is_up(node_id) else 1 if cluster.slow.is_slow(node_id) else 0
        return (health, 0 if shard_index < k else 1, shard_index)

    ordered = sorted(shard_set.placement, key=lambda loc: rank(loc.node_id, loc.shard_index))
    return [
        reader.ShardSource(loc.shard_index, cluster.stub(loc.node_id), loc.node_id)
        for loc in ordered
    ]


def read_stripe_pieces(
    *,
    cluster: ClusterView,
    version: ObjectVersion,
    shard_set: ShardSet,
    span: StripeSpan,
    executor: Executor,
    deadline: Deadline,
    columns: range | None = None,
) -> AsyncGenerator[list[Buffer], None]:
    """The stripes of span in one shard set of version, each as the pieces
    it arrived in (columns: see reader.read_stripe_pieces)."""
    return reader.read_stripe_pieces(
        sources=shard_sources(cluster, shard_set),
        version_id=shard_set.shard_set_id,
        geometry=shard_set.geometry,
        size_bytes=shard_set.size_bytes,
        span=span,
        executor=executor,
        call_metadata=cluster.call_metadata,
        timeout_seconds=deadline.remaining,
        observer=_MetricsObserver(version, shard_set.shard_set_id, cluster),
        columns=columns,
        hedge=hedging.PROCESS_POLICY,
    )


def needed_columns(shard_set: ShardSet, span: StripeSpan) -> range | None:
    """The data chunks a range inside one stripe needs, when that is fewer
    than the stripe's k: with 1 MiB chunks, a 100-byte range of a large object
    reads one 1 MiB chunk instead of a 4 MiB stripe. None: the whole stripe."""
    if span.stripe_count != 1:
        return None
    geometry = shard_set.geometry
    chunk_bytes = geometry.chunk_bytes(shard_set.size_bytes, span.stripe_start)
    first = span.skip_bytes // chunk_bytes
    last = (span.skip_bytes + span.length_bytes - 1) // chunk_bytes
    if last - first + 1 >= geometry.data_shards:
        return None
    return range(first, last + 1)


async def read_range(
    *,
    cluster: ClusterView,
    version: ObjectVersion,
    first: int,
    last: int,
    executor: Executor,
    deadline: Deadline,
    data_key: bytes | None = None,
) -> AsyncGenerator[Buffer, None]:
    """Bytes first..last (inclusive) of version, in pieces of at most a stripe
    (a plaintext version's: the chunks as received, views that were never
    copied). data_key: the version's data key, required when it is encrypted."""
    assert (data_key is not None) == version.is_encrypted, version.version_id
    if version.inline_data:  # kept in the record: no node is asked
        yield version.inline_data[first : last + 1]
        return
    shard_sets = version.shard_sets()
    plain_sizes = version.plain_sizes()
    for index, set_first, set_last in segment_ranges(plain_sizes, first, last):
        shard_set = shard_sets[index]
        columns = None
        if data_key is None:
            span = span_for_range(shard_set.geometry, set_first, set_last)
            columns = needed_columns(shard_set, span)
        else:  # a sealed block is a whole stripe: its tag covers every byte
            span = span_for_plain_range(shard_set.geometry, set_first, set_last)
        stripes = read_stripe_pieces(
            cluster=cluster,
            version=version,
            shard_set=shard_set,
            span=span,
            executor=executor,
            deadline=deadline,
            columns=columns,
        )
        if data_key is not None:
            stripes = _opened(
                stripes,
                BlockCipher(data_key, shard_set.shard_set_id),
                span.stripe_start,
                block_count(plain_sizes[index], shard_set.geometry),
                executor,
            )
        try:
            skip = span.skip_bytes
            if columns is not None:  # what comes starts at the first column
                skip -= columns.start * shard_set.geometry.chunk_bytes(
                    shard_set.size_bytes, span.stripe_start
                )
            left = span.length_bytes
            while left > 0:
                stripe = await anext(stripes, None)
                if stripe is None:
                    raise errors.InternalError(
                        f"{version.bucket}/{version.key}: shard set "
                        f"{shard_set.shard_set_id} ended early"
                    )
                for data in stripe:
                    if left <= 0:
                        break
                    if skip >= len(data):
                        skip -= len(data)
                        continue
                    if skip or len(data) - skip > left:
                        data = memoryview(data)[skip : skip + left]
                    skip = 0
                    left -= len(data)
                    yield data
        finally:
            await stripes.aclose()


async def _opened(
    sealed: AsyncGenerator[list[Buffer], None],
    cipher: BlockCipher,
    first_block: int,
    blocks: int,
    executor: Executor,
) -> AsyncGenerator[list[Buffer], None]:
    """The plaintext of consecutive sealed blocks (one stripe each), from
    first_block on, one piece per block."""
    loop = asyncio.get_running_loop()
    index = first_block
    try:
        async for pieces in sealed:
            block = b"".join(pieces)  # a tag covers the block whole
            try:
                plain = await loop.run_in_executor(
                    executor, cipher.open, index, block, index == blocks - 1
                )
            except SealBroken as exc:
                metrics.SEALED_BLOCK_FAILURES.inc()
                raise errors.InternalError(f"sealed block {index} failed its tag") from exc
            index += 1
            yield [plain]
    finally:
        await sealed.aclose()
