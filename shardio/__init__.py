"""Shard streams over gRPC, shared by the roles that move shard data: the
gateway (object reads) and the nodes (rebuilding a shard from its peers)."""
