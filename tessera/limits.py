"""Every fixed limit of the system, in one place (units in the names)."""

from __future__ import annotations

KEY_LENGTH_MAX_BYTES = 1024
BUCKET_NAME_LENGTH_MIN = 3
BUCKET_NAME_LENGTH_MAX = 63
USER_METADATA_SIZE_MAX_BYTES = 2048
OBJECT_SIZE_MAX_BYTES = 5 * 1024**4  # single PUT limit in S3 is 5 GiB; multipart 5 TiB
SINGLE_PUT_SIZE_MAX_BYTES = 5 * 1024**3
LIST_KEYS_MAX = 1000

# Multipart uploads (docs/multipart.md): S3's limits.
PART_NUMBER_MIN = 1
PART_NUMBER_MAX = 10_000
PART_SIZE_MIN_BYTES = 5 * 1024**2  # every part but the last
PART_SIZE_MAX_BYTES = 5 * 1024**3
LIST_PARTS_MAX = 1000
LIST_UPLOADS_MAX = 1000

# Erasure coding defaults (see docs/erasure-coding.md).
DATA_SHARDS_DEFAULT = 4
PARITY_SHARDS_DEFAULT = 2
# Small objects kept in the metadata record (docs/inline-objects.md has the
# measurement): every inline byte passes through the etcd log, twice as hex.
INLINE_DEFAULT_BYTES = 4096  # docs/inline-objects.md has the measurement
INLINE_MAX_BYTES = 64 * 1024
CHUNK_SIZE_DEFAULT_BYTES = 1024 * 1024  # one shard's piece of one stripe (docs/erasure-coding.md)
GRPC_MESSAGE_MAX_BYTES = 8 * 1024 * 1024
# Chunk data one ReadChunks answer may carry (a one-message read of a short
# stripe range; longer ranges go over the GetShard stream). Half the message
# limit leaves room for the framing of up to this many chunks.
READ_CHUNKS_MAX_BYTES = GRPC_MESSAGE_MAX_BYTES // 2

# Request handling.
REQUEST_TIMEOUT_DEFAULT_SECONDS = 300.0
BUCKET_CACHE_SECONDS_DEFAULT = 1.0  # a gateway's GET/HEAD reuses a bucket record this long
# Memory a gateway's object records kept under record leases may take
# (metadata/leased_records.py; 0 turns them off).
RECORD_LEASE_BYTES_DEFAULT = 64 * 1024 * 1024
METADATA_CALL_TIMEOUT_SECONDS = 10.0
CLOCK_SKEW_MAX_SECONDS = 15 * 60
INFLIGHT_BYTES_MAX_DEFAULT = 512 * 1024 * 1024

# Cluster map and liveness.
HEARTBEAT_INTERVAL_SECONDS = 2.0
NODE_DOWN_GRACE_DEFAULT_SECONDS = 10.0
CLUSTER_MAP_REFRESH_SECONDS = 1.0

# Repair, scrub and GC (docs/repair.md).
REPAIR_RATE_DEFAULT_BYTES_PER_SECOND = 64 * 1024 * 1024
REPAIR_PASS_SECONDS_MAX = 30.0  # then rescan, so a new failure is not queued behind old work
REBUILD_TIMEOUT_BASE_SECONDS = 30.0
REBUILD_SLOWEST_BYTES_PER_SECOND = 1024 * 1024  # a rebuild slower than this is abandoned
REPAIR_LEADER_TTL_SECONDS = 10
SCRUB_RATE_DEFAULT_BYTES_PER_SECOND = 16 * 1024 * 1024
# Removed shard files a node keeps to write new shards over (node/spares.py).
SPARE_FILES_DEFAULT_BYTES = 1024 * 1024 * 1024
SCRUB_INTERVAL_DEFAULT_SECONDS = 7 * 24 * 3600.0
GC_GRACE_DEFAULT_SECONDS = 3600.0
GC_LIST_TIMEOUT_SECONDS = 600.0
PROBLEM_REPORTS_QUEUED_MAX = 10_000

# Web console (gateway/console).
CONSOLE_SESSION_IDLE_SECONDS = 30 * 60  # a session unused this long is gone
CONSOLE_SESSION_MAX_SECONDS = 12 * 3600  # and none lives longer than this
CONSOLE_SESSIONS_MAX = 10_000  # past this the least recently used is dropped
CONSOLE_UPLOAD_URL_SECONDS = 15 * 60  # validity of a pre-signed PUT the page uses at once
CONSOLE_LINK_SECONDS_DEFAULT = 3600  # a copied download link
CONSOLE_LIST_PAGE_KEYS = 200
CONSOLE_VERSIONS_MAX = 100  # versions of one key the object details show

# Object tagging (S3's limits): tags per object, characters per tag key and value.
TAGS_PER_OBJECT_MAX = 10
TAG_KEY_CHARS_MAX = 128
TAG_VALUE_CHARS_MAX = 256

# Bucket lifecycle (docs/lifecycle.md): S3's limits on a configuration.
LIFECYCLE_RULES_MAX = 1000
LIFECYCLE_RULE_ID_CHARS_MAX = 255
LIFECYCLE_NEWER_NONCURRENT_VERSIONS_MAX = 100
LIFECYCLE_DAY_DEFAULT_SECONDS = 86400.0  # one lifecycle "day"; scaled down only in tests
LIFECYCLE_INTERVAL_DEFAULT_SECONDS = 3600.0
LIFECYCLE_ACTIONS_PER_SECOND_DEFAULT = 50.0

# Bucket tagging: tags per bucket.
TAGS_PER_BUCKET_MAX = 50

# Memory a metadata replica gives to object records kept decoded for GETs
# on its event loop (metadata/record_cache.py; --record-cache-bytes).
RECORD_CACHE_BYTES_DEFAULT = 64 * 1024 * 1024
