"""The storage node role: a shard store on one disk, served over gRPC.

    shard_format   the on-disk layout of one shard file (pure: bytes in, bytes out)
    store          ShardStore: durable writes, verified reads, deletes, usage counters
    errors         the store's error tree
    service        the grpc.aio Node servicer (protobuf stays here, at the edge)
    membership     registration with metadata and heartbeats
    identity       the node's stable id and the address it advertises
    metrics        Prometheus metrics, tessera_node_*
    main           serve(settings, stop): wires the above into one process

Invariant: a shard is acknowledged only after its file and directory are
fsynced, and a chunk whose checksum fails is never served.
"""
