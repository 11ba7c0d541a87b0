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
    "Time to apply and durably write one group commit.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
COMMIT_FAILURES = Counter(
    "tessera_metadata_commit_failures_total",
    "Group commits that failed to apply or to write (every caller got an error).",
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
