"""Generated gRPC contracts (tessera.proto). Regenerate with `python -m proto.build`."""
