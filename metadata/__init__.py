"""The metadata service: buckets, current object versions, registered nodes, the map.

mutations  the state changes (the log's entries) and their JSON form
keys       the rocksdict key layout
overlay    a batch's pending writes, visible to the rest of the batch
state      the deterministic state machine (apply + reads)
listing    the ListObjectsV2 walk over the ordered keyspace
outcome    a mutation's result or S3 error, as recorded for retries
commit     the single-replica log: group commit into the state
liveness   heartbeats, node states and the cluster map epoch
service    the gRPC servicer;  client  the async client
main       the process;  metrics  the Prometheus metrics
"""
