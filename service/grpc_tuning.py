"""gRPC's client connections on its POSIX endpoints, not its EventEngine
client: set once, at process start, before gRPC is imported.

Why: every role is a gRPC client on its request path (the gateway calls the
metadata replicas and the nodes, a replica calls etcd). With grpcio 1.85's
default EventEngine client, a GET 4 KiB at one caller cost the cluster
0.93-1.02 ms of CPU and ran at 792-858 GET/s; with the `event_engine_client`
experiment off (gRPC's own switch back to its POSIX TCP client endpoints)
0.87-0.88 ms at 890-908 GET/s, five alternating pairs of clusters; a PUT
4 KiB at one caller 4.14-4.39 against 4.35-5.51 ms of CPU (the replicas'
etcd calls spend a third less system time). Large objects and sixteen
callers came out even (docs/benchmarks.md, "gRPC's POSIX client endpoints").
Servers are unchanged: the listener experiment measured even.

gRPC reads GRPC_EXPERIMENTS once, when it is first imported, so this must run
before anything imports grpc; an operator's own GRPC_EXPERIMENTS wins, and
TESSERA_GRPC_TUNING=0 leaves gRPC's defaults. A gRPC release without the
experiment logs "Unknown experiment" once and runs with its defaults.

Invariant: only which of gRPC's own endpoint implementations carries the
client's bytes changes; the HTTP/2 transport, its options and every call's
semantics are gRPC's as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container, MutableMapping

EXPERIMENTS_ENV = "GRPC_EXPERIMENTS"
SWITCH_ENV = "TESSERA_GRPC_TUNING"
POSIX_CLIENT = "-event_engine_client"


def prefer_posix_client(
    environ: MutableMapping[str, str] | None = None, modules: Container[str] | None = None
) -> bool:
    """Turns gRPC's EventEngine client off for this process (and the
    processes it starts) unless the operator chose otherwise; returns whether
    it did. Does nothing once grpc is imported (in-process callers of the
    CLI, tests): it would no longer take effect. environ and modules default
    to the process's own."""
    env = os.environ if environ is None else environ
    loaded = sys.modules if modules is None else modules
    if env.get(SWITCH_ENV) == "0" or EXPERIMENTS_ENV in env or "grpc" in loaded:
        return False
    env[EXPERIMENTS_ENV] = POSIX_CLIENT
    return True
