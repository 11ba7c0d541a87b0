"""The metadata service: buckets, current object versions, the cluster map —
a shared log in etcd, applied by every replica into its own rocksdict
(docs/metadata.md).

mutations   the state changes (the log's entries) and their JSON form
logformat   one log entry (a batch of mutations) and its positions
keys        the rocksdict key layout
overlay     a batch's pending writes, visible to the rest of the batch
state       the deterministic state machine (apply + reads)
listing     the ListObjectsV2 walk over the ordered keyspace
outcome     a mutation's result or S3 error, as recorded for retries
commit      group commit, and the single-replica log (no etcd)
shared_log  group commit into the log in etcd
follower    watching the log, applying it, the read index
etcd        the etcd client (gRPC, deadlines, failover)
liveness    who is alive, and the corrections that keep the map in step
membership  storage nodes' liveness under etcd leases
replicas    the replica registry and log compaction
checkpoint  RocksDB checkpoints streamed to a new or wiped replica
usage       storage counters, quotas and hourly request records (docs/usage-and-quotas.md)
service     the gRPC servicer, one mixin per area on service_core (bucket_service,
            object_service, upload_service, user_service, cluster_service,
            usage_service);  client  the async client
main        the process;  metrics  the Prometheus metrics
"""
