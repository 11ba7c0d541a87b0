"""Generated stubs of the part of etcd's v3 gRPC API the metadata replicas use
(kv.proto, rpc.proto). Regenerate with `python -m proto.build`."""
