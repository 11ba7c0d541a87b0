"""Prometheus metrics of the metadata role (tessera_metadata_*).

Labels come from bounded sets only: mutation kind, outcome (ok or an S3 error
code), node state, RPC method.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from tessera.usage import StorageUsage

MUTATIONS = Counter(
    "tessera_metadata_mutations_total",
    "Mutations applied, by kind and outcome (ok or the S3 error code).",
    ["kind", "outcome"],
)
COMMIT_BATCH_MUTATIONS = Histogram(
    "tessera_metadata_commit_batch_mutations",
    "Mutations written per group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
COMMIT_DURATION = Histogram(
    "tessera_metadata_commit_duration_seconds",
    "Time to durably commit one group commit (single replica: apply and write; "
    "replicated: the etcd append).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
COMMIT_FAILURES = Counter(
    "tessera_metadata_commit_failures_total",
    "Group commits that failed to apply, write or append (every caller got an error).",
    ["stage"],
)
NODES = Gauge(
    "tessera_metadata_nodes",
    "Registered storage nodes, by state.",
    ["state"],
)
RPC_DURATION = Histogram(
    "tessera_metadata_rpc_duration_seconds",
    "Time to serve one metadata RPC, by method and code (OK or the S3 error code).",
    ["method", "code"],
)
ENTRY_BYTES = Histogram(
    "tessera_metadata_log_entry_bytes",
    "Size of one entry appended to the shared log in etcd.",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576),
)
APPLY_DURATION = Histogram(
    "tessera_metadata_apply_duration_seconds",
    "Time to apply and durably write one batch of log entries on this replica.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
APPLIED_REVISION = Gauge(
    "tessera_metadata_applied_revision",
    "The last etcd revision of the shared log this replica applied.",
)
READ_INDEX_DURATION = Histogram(
    "tessera_metadata_read_index_duration_seconds",
    "Time a strongly consistent read waited for the log's head to be applied.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STRONG_READS = Counter(
    "tessera_metadata_strong_reads_total",
    "Strong reads, by how they knew their state was current: a read lease or the read index.",
    ["by"],
)
RECORD_CACHE = Counter(
    "tessera_metadata_record_cache_total",
    "GetObject reads that found the record decoded in memory (hit) or read the database (miss).",
    ["result"],
)
LIST_PAGES_AHEAD = Counter(
    "tessera_metadata_list_pages_ahead_total",
    "Listing pages read ahead, by what became of them: served, stale (the bucket "
    "changed, or too old), failed, or dropped (never asked for, or one too many).",
    ["outcome"],
)
LEASE_RENEWALS = Counter(
    "tessera_metadata_read_lease_renewals_total",
    "Read leases this replica took or renewed, by outcome.",
    ["outcome"],
)
LEASE_WAIT_DURATION = Histogram(
    "tessera_metadata_read_lease_wait_seconds",
    "Time an answer (a write's, or a read's without the lease) waited for peers that may"
    " hold read leases to apply what it shows.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0),
)
LEASE_WAITED_OUT = Counter(
    "tessera_metadata_read_lease_waited_out_total",
    "Peer read leases an answer waited out because the peer did not confirm in time.",
)
RECORD_LEASE_STREAMS = Gauge(
    "tessera_metadata_record_lease_streams",
    "Gateways with a RecordLeases stream open to this replica.",
)
RECORD_LEASE_GRANTS = Counter(
    "tessera_metadata_record_lease_grants_total",
    "Record leases asked by gateways: granted, or refused (no read lease here).",
    ["result"],
)
RECORD_LEASE_WAIT_DURATION = Histogram(
    "tessera_metadata_record_lease_wait_seconds",
    "Time a batch waited, before it was written, for gateways to acknowledge its invalidation.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 2.5),
)
RECORD_LEASE_WAITED_OUT = Counter(
    "tessera_metadata_record_lease_waited_out_total",
    "Gateway record leases a write waited out because the gateway did not acknowledge in time.",
)
RECORD_LEASE_OVERFLOWS = Counter(
    "tessera_metadata_record_lease_overflows_total",
    "Gateway streams ended because the gateway fell too far behind its notices.",
)
ETCD_DB_BYTES = Gauge(
    "tessera_metadata_etcd_db_bytes",
    "Size of etcd's database as its member reported it at the last compaction check.",
)
COMPACTED_REVISION = Gauge(
    "tessera_metadata_compacted_revision",
    "The revision etcd was last compacted to by this replica.",
)

# ---------------------------------------------------------------- repair and GC
# Set by the replica that leads repair (the others leave them at zero).

REPAIR_SHARD_SETS_BY_MARGIN = Gauge(
    "tessera_repair_shard_sets",
    "Shard sets (single-part objects) by margin: healthy shards beyond k "
    '("lost": fewer than k readable now), as of the last scan.',
    ["margin"],
)
REPAIR_QUEUE_SHARDS = Gauge(
    "tessera_repair_queue_shards", "Shards waiting to be rebuilt or moved (by kind).", ["kind"]
)
REPAIR_QUEUE_BYTES = Gauge(
    "tessera_repair_queue_bytes", "Shard bytes waiting to be rebuilt or drained."
)
REBALANCE_QUEUE_BYTES = Gauge(
    "tessera_rebalance_queue_bytes",
    "Shard bytes waiting to move onto their ideal nodes (after a node joined).",
)
REPAIR_BLOCKED_SHARDS = Gauge(
    "tessera_repair_blocked_shards",
    "Shards to rebuild with no node that fits the zone rule right now.",
)
REPAIR_SHARDS = Counter(
    "tessera_repair_shards_total",
    "Shard rebuilds by outcome (ok, stale: the version changed meanwhile, failed).",
    ["kind", "outcome"],
)
REPAIR_WRITTEN_BYTES = Counter(
    "tessera_repair_written_bytes_total", "Shard bytes rebuilt and committed to a placement."
)
REPAIR_READ_BYTES = Counter(
    "tessera_repair_read_bytes_total", "Chunk bytes read from sources to rebuild shards."
)
REPAIR_CROSS_ZONE_BYTES = Counter(
    "tessera_repair_cross_zone_read_bytes_total",
    "Source bytes read from another zone than the rebuilt shard's (estimated per rebuild "
    "from the k preferred sources).",
)
REPAIR_THROUGHPUT = Gauge(
    "tessera_repair_throughput_bytes_per_second",
    "Rebuilt bytes per second over the last minute.",
)
REPAIR_ETA = Gauge(
    "tessera_repair_eta_seconds",
    "Estimated time to full redundancy (queue bytes / throughput; -1: unknown).",
)
REPAIR_RATE_LIMIT = Gauge("tessera_repair_rate_limit_bytes_per_second", "The repair rate in force.")
REPAIR_LEADER = Gauge("tessera_repair_leader", "1 on the replica that schedules repair.")
REPAIR_SCAN_SECONDS = Gauge(
    "tessera_repair_last_scan_duration_seconds", "Duration of the last scan of every version."
)
GC_DELETED_SHARDS = Counter("tessera_gc_deleted_shards_total", "Unreferenced shards removed by GC.")
GC_DELETED_BYTES = Counter(
    "tessera_gc_deleted_bytes_total", "Chunk bytes of the unreferenced shards removed by GC."
)
GC_YOUNG_SHARDS = Gauge(
    "tessera_gc_young_unreferenced_shards",
    "Unreferenced shards kept at the last pass because they are younger than the grace "
    "period (in-flight writes, fresh rebuilds).",
)
GC_PASSES = Counter("tessera_gc_passes_total", "GC passes over the nodes, by outcome.", ["outcome"])

# ---------------------------------------------------------------- lifecycle
# Counted by the replica that leads (docs/lifecycle.md).

LIFECYCLE_ACTIONS = Counter(
    "tessera_lifecycle_actions_total",
    "Lifecycle actions submitted, by action (expire_current, delete_noncurrent, "
    "delete_expired_marker, abort_upload) and outcome (done; skipped: the key changed "
    "since it was read; refused: an S3 error such as an object lock; failed).",
    ["action", "outcome"],
)
LIFECYCLE_SCANNED_RECORDS = Counter(
    "tessera_lifecycle_scanned_records_total",
    "Versions, delete markers and multipart uploads lifecycle evaluated.",
)
LIFECYCLE_PASSES = Counter(
    "tessera_lifecycle_passes_total",
    "Lifecycle passes over the buckets with rules, by outcome (ok, partial).",
    ["outcome"],
)
LIFECYCLE_PASS_SECONDS = Gauge(
    "tessera_lifecycle_last_pass_duration_seconds", "Duration of the last lifecycle pass."
)

# Cluster-wide storage usage (docs/usage-and-quotas.md): totals only — per-bucket
# numbers come from `tessera admin usage`, never as labels (buckets are unbounded).
STORED_BYTES = Gauge(
    "tessera_metadata_usage_stored_bytes",
    "Bytes stored in the whole cluster, by kind (logical, physical, multipart, "
    "multipart_physical), as this replica has applied the log.",
    ["kind"],
)
STORED_COUNT = Gauge(
    "tessera_metadata_usage_stored_count",
    "Objects, versions, delete markers, multipart uploads and parts in the whole cluster.",
    ["kind"],
)
_BYTES_FIELDS = {
    "logical": "logical_bytes",
    "physical": "physical_bytes",
    "multipart": "multipart_bytes",
    "multipart_physical": "multipart_physical_bytes",
}
_COUNT_FIELDS = ("objects", "versions", "delete_markers", "multipart_uploads", "multipart_parts")
_usage_reader: list[Callable[[], StorageUsage]] = []


def watch_usage(read_total: Callable[[], StorageUsage]) -> None:
    """Serves the usage gauges from read_total (the latest state opened)."""
    _usage_reader[:] = [read_total]


def _usage_field(name: str) -> float:
    if not _usage_reader:
        return 0.0
    try:
        return float(getattr(_usage_reader[0](), name))
    except Exception:  # a state closed or moved aside: report nothing rather than fail a scrape
        return 0.0


def _reader(field: str) -> Callable[[], float]:
    return lambda: _usage_field(field)


for _label, _field in _BYTES_FIELDS.items():
    STORED_BYTES.labels(_label).set_function(_reader(_field))
for _field in _COUNT_FIELDS:
    STORED_COUNT.labels(_field).set_function(_reader(_field))
