"""The object read pipeline of the gateway: a version's shards → its bytes.

Sources are ordered data shards on up nodes first, then parity shards on up
nodes, then anything left (the map may be stale); shardio.reader does the
reading, failing over and decoding.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from concurrent.futures import Executor

from gateway import metrics
from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from shardio import reader
from tessera.geometry import StripeSpan
from tessera.model import ObjectVersion

log = logging.getLogger(__name__)


class _MetricsObserver:
    def __init__(self, version: ObjectVersion) -> None:
        self._version = version

    def checksum_failure(self) -> None:
        metrics.CHECKSUM_FAILURES.inc()

    def degraded_stripe(self) -> None:
        metrics.DEGRADED_READS.inc()

    def chunks_read(self, count: int) -> None:
        metrics.SHARDS_READ.inc(count)

    def shard_failure(self, source: reader.ShardSource, reason: str) -> None:
        v = self._version
        log.warning(
            "%s/%s v%s: shard %d on %s: %s",
            v.bucket,
            v.key,
            v.version_id,
            source.shard_index,
            source.label,
            reason,
        )


def shard_sources(cluster: ClusterView, version: ObjectVersion) -> list[reader.ShardSource]:
    k = version.data_shards

    def rank(node_id: str, shard_index: int) -> tuple[int, int, int]:
        return (0 if cluster.is_up(node_id) else 1, 0 if shard_index < k else 1, shard_index)

    ordered = sorted(version.placement, key=lambda loc: rank(loc.node_id, loc.shard_index))
    return [
        reader.ShardSource(loc.shard_index, cluster.stub(loc.node_id), loc.node_id)
        for loc in ordered
    ]


def read_stripes(
    *,
    cluster: ClusterView,
    version: ObjectVersion,
    span: StripeSpan,
    executor: Executor,
    deadline: Deadline,
) -> AsyncGenerator[bytes, None]:
    return reader.read_stripes(
        sources=shard_sources(cluster, version),
        version_id=version.version_id,
        geometry=version.geometry,
        size_bytes=version.size_bytes,
        span=span,
        executor=executor,
        call_metadata=cluster.call_metadata,
        timeout_seconds=deadline.remaining,
        observer=_MetricsObserver(version),
    )
