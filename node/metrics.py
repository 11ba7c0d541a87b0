"""Prometheus metrics of the storage node, named tessera_node_<noun>_<unit>.

Invariant: every label takes values from a small fixed set (an RPC method, a
gRPC status name, a pipeline stage, an fsync target); never a bucket, key,
version id or path.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# fmt: off
_DURATION_BUCKETS_SECONDS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
_FSYNC_BUCKETS_SECONDS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
)
# fmt: on

SHARDS_WRITTEN = Counter("tessera_node_shards_written_total", "Shards made durable.")
SHARDS_READ = Counter(
    "tessera_node_shards_read_total", "GetShard streams served to the end, ReadChunks answered."
)
SHARDS_DELETED = Counter(
    "tessera_node_shards_deleted_total", "Shards removed by DeleteShard and DeleteShards."
)
WRITTEN_BYTES = Counter(
    "tessera_node_written_bytes_total", "Chunk data bytes received and written."
)
READ_BYTES = Counter("tessera_node_read_bytes_total", "Chunk data bytes read and sent.")
READS_FROM_CACHE = Counter(
    "tessera_node_chunk_reads_total",
    "Chunk reads (ReadChunks answers, GetShard chunks) by where they ran: loop = copied"
    " from the page cache on the event loop, executor = in a thread (not all cached).",
    ["served"],
)
CHECKSUM_FAILURES = Counter(
    "tessera_node_checksum_failures_total",
    "Chunks or headers that failed their CRC32C (stage: receive = in flight, read = on disk).",
    ["stage"],
)
FSYNC_SECONDS = Histogram(
    "tessera_node_fsync_duration_seconds",
    "Time spent in fsync (target: file or folder).",
    ["target"],
    buckets=_FSYNC_BUCKETS_SECONDS,
)
FOLDER_SYNC_CALLERS = Histogram(
    "tessera_node_folder_sync_callers",
    "Commits, deletes and moves made durable by one folder fsync (group commit).",
    buckets=(1, 2, 4, 8, 16, 32),
)
PUT_SHARD_SECONDS = Histogram(
    "tessera_node_put_shard_duration_seconds",
    "PutShard calls from first message to answer, by gRPC status.",
    ["code"],
    buckets=_DURATION_BUCKETS_SECONDS,
)
GET_SHARD_SECONDS = Histogram(
    "tessera_node_get_shard_duration_seconds",
    "GetShard calls from request to end of stream, by gRPC status.",
    ["code"],
    buckets=_DURATION_BUCKETS_SECONDS,
)
PUT_WHOLE_SHARD_SECONDS = Histogram(
    "tessera_node_put_whole_shard_duration_seconds",
    "PutWholeShard calls (a one-stripe shard, unary) from request to answer, by gRPC status.",
    ["code"],
    buckets=_DURATION_BUCKETS_SECONDS,
)
READ_CHUNKS_SECONDS = Histogram(
    "tessera_node_read_chunks_duration_seconds",
    "ReadChunks calls (a short stripe range, unary) from request to answer, by gRPC status.",
    ["code"],
    buckets=_DURATION_BUCKETS_SECONDS,
)
USED_BYTES = Gauge("tessera_node_used_bytes", "Bytes of durable shard files.")
CAPACITY_BYTES = Gauge("tessera_node_capacity_bytes", "Capacity reported to metadata.")
SHARDS_STORED = Gauge("tessera_node_shards", "Durable shard files on this node.")
SPARE_BYTES = Gauge(
    "tessera_node_spare_bytes", "Bytes of removed shard files kept for reuse (node/spares.py)."
)
SPARE_FILES = Gauge("tessera_node_spare_files", "Removed shard files kept for reuse.")
SPARES_REUSED = Counter(
    "tessera_node_spares_reused_total", "Shards written over a kept file instead of a new one."
)
REGISTERED = Gauge(
    "tessera_node_registered", "1 while the last registration or heartbeat succeeded."
)
SHARDS_QUARANTINED = Counter(
    "tessera_node_shards_quarantined_total", "Corrupt shards moved aside (never deleted)."
)
SCRUBBED_BYTES = Counter(
    "tessera_node_scrubbed_bytes_total", "Chunk bytes re-read by the scrubber."
)
SCRUB_CORRUPT = Counter(
    "tessera_node_scrub_corrupt_shards_total", "Corrupt shards the scrubber found."
)
SCRUB_PASSES = Counter("tessera_node_scrub_passes_total", "Complete scrub passes over the store.")
SCRUB_PASS_SECONDS = Gauge(
    "tessera_node_scrub_last_pass_seconds", "Duration of the last complete scrub pass."
)
SHARDS_REBUILT = Counter("tessera_node_shards_rebuilt_total", "Shards rebuilt here from peers.")
PROBLEMS_REPORTED = Counter(
    "tessera_node_shard_problems_reported_total",
    "Corrupt shards reported to metadata for repair.",
)
