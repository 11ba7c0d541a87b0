"""Prometheus metrics of the metadata role (tessera_metadata_*).

Labels come from bounded sets only: mutation kind, outcome (ok or an S3 error
code), node state, RPC method.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
ETCD_DB_BYTES = Gauge(
    "tessera_metadata_etcd_db_bytes",
    "Size of etcd's database as its member reported it at the last compaction check.",
)
COMPACTED_REVISION = Gauge(
    "tessera_metadata_compacted_revision",
    "The revision etcd was last compacted to by this replica.",
)
