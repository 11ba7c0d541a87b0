"""Gateway metrics (tessera_gateway_*). Labels come only from bounded sets:
the S3 operation name and the S3 error code or HTTP status."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("tessera_gateway_requests_total", "S3 requests answered", ["operation", "code"])
REQUEST_SECONDS = Histogram(
    "tessera_gateway_request_duration_seconds",
    "Time to answer an S3 request (headers and body)",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BYTES_IN = Counter("tessera_gateway_received_bytes_total", "Object bytes received")
BYTES_OUT = Counter("tessera_gateway_sent_bytes_total", "Object bytes sent")
SHARDS_WRITTEN = Counter("tessera_gateway_shards_written_total", "Shards stored durably")
MAP_EPOCH = Gauge("tessera_gateway_cluster_map_epoch", "Epoch of the cluster map this gateway uses")
MAP_NODES = Gauge(
    "tessera_gateway_cluster_map_nodes",
    "Storage nodes in the cluster map this gateway uses, by state (up, down, draining)",
    ["state"],
)
INLINE_WRITES = Counter(
    "tessera_gateway_inline_objects_written_total",
    "Objects small enough to be kept in their metadata record (no shards)",
)
BUCKET_RECHECKS = Counter(
    "tessera_gateway_bucket_rechecks_total",
    "PUT and DELETE commits refused because the bucket record changed after the "
    "gateway authorized them from its bucket cache (each then decided again)",
)
PREFETCHES = Counter(
    "tessera_gateway_prefetches_total",
    "GETs that began reading a hinted version while metadata was asked "
    "(gateway/prefetch.py), by outcome: used, stale (another version answered), "
    "failed (the early read failed; the GET read again)",
    ["outcome"],
)
for _outcome in ("used", "stale", "failed"):
    PREFETCHES.labels(outcome=_outcome)  # exported from the start, at 0
SHARDS_READ = Counter("tessera_gateway_shard_chunks_read_total", "Shard chunks read")
DEGRADED_READS = Counter(
    "tessera_gateway_degraded_stripes_total", "Stripes rebuilt from parity on read"
)
DEGRADED_WRITES = Counter(
    "tessera_gateway_degraded_writes_total", "Versions committed with fewer than n shards"
)
CHECKSUM_FAILURES = Counter(
    "tessera_gateway_checksum_failures_total", "Shard chunks that failed their CRC32C on read"
)
SHARD_READ_FAILURES = Counter(
    "tessera_gateway_shard_read_failures_total",
    "Shard reads dropped on read and replaced by a spare, by reason (slow: no "
    "answer within the slow-chunk wait; a gRPC status; checksum mismatch; ...)",
    ["reason"],
)
HEDGED_READS = Counter(
    "tessera_gateway_hedged_reads_total",
    "Spare shards asked because some of a stripe's shards had not answered "
    "long after their siblings (shardio/hedging.py)",
)
STRAGGLERS_DROPPED = Counter(
    "tessera_gateway_stragglers_dropped_total",
    "Shard reads asked first and still unanswered when a stripe was served "
    "without them, from spares asked after the hedge wait",
)
NODES_MARKED_SLOW = Counter(
    "tessera_gateway_nodes_marked_slow_total",
    "Times a node was marked slow for a while (gateway/slow_nodes.py): left "
    "behind by hedged reads often enough, or a shard write timed out on it",
)
SHARD_WRITES_TIMED_OUT = Counter(
    "tessera_gateway_shard_writes_timed_out_total",
    "Shard writes dropped because their node did not confirm in time, by the "
    "node's mark when dropped: up (after the full slow-shard wait) or slow "
    "(after the short grace of a node already marked slow)",
    ["node"],
)
SEALED_BLOCK_FAILURES = Counter(
    "tessera_gateway_sealed_block_failures_total",
    "Encrypted blocks that failed their AES-GCM tag on read (never served)",
)
DATA_KEYS_MADE = Counter(
    "tessera_gateway_data_keys_total",
    "Data keys made for encrypted objects and multipart uploads, by mode",
    ["mode"],  # AES256, aws:kms, SSE-C
)
INFLIGHT_BYTES = Gauge("tessera_gateway_inflight_bytes", "Body bytes admitted and not yet finished")
USAGE_REQUESTS = Counter(
    "tessera_gateway_usage_requests_total",
    "S3 requests metered, by billing class (put_class, get_class, delete)",
    ["request_class"],
)
USAGE_FLUSHES = Counter(
    "tessera_gateway_usage_flushes_total",
    "Request usage flushes to metadata, by outcome (ok, failed, refused, dropped)",
    ["outcome"],
)
