"""gRPC's connections on its POSIX endpoints, not its EventEngine ones, for
clients and servers: set once, at process start, before gRPC is imported.

Why: every role is a gRPC client on its request path (the gateway calls the
metadata replicas and the nodes, a replica calls etcd), and the replicas and
the nodes are gRPC servers on it. This machine (a VM in which waking another
thread or process costs 10-20 us of CPU) pays for every hand-off between
threads, and the EventEngine endpoints add hand-offs to each call.

- Clients (`-event_engine_client`): with grpcio 1.85's default EventEngine
  client, a GET 4 KiB at one caller cost the cluster 0.93-1.02 ms of CPU and
  ran at 792-858 GET/s; with the experiment off (gRPC's own switch back to
  its POSIX TCP client endpoints) 0.87-0.88 ms at 890-908 GET/s, five
  alternating pairs of clusters; a PUT 4 KiB at one caller 4.14-4.39 against
  4.35-5.51 ms of CPU. Large objects and sixteen callers came out even.
- Servers (`-event_engine_listener`): with the EventEngine listener, a
  server's EventEngine threads wake for every call: a replica answering
  GET 4 KiB at one caller switched threads 9.3 times per GET (/proc
  context-switch counts), 3.8 of them on those threads; with the POSIX
  listener those threads switched 0.05 times per GET. GET 4 KiB at
  one caller +4 to +18 % GET/s and -5 to -18 % cluster CPU per GET, six
  alternating pairs; GET 1 MiB at sixteen callers +8 % (two pairs); PUT
  1 MiB at sixteen callers even; PUT 4 KiB at one caller +13, +13 and -7 %
  (its usual spread).

docs/benchmarks.md has the runs ("gRPC's POSIX client endpoints", "gRPC's
POSIX listener").

gRPC reads GRPC_EXPERIMENTS once, when it is first imported, so this must run
before anything imports grpc; an operator's own GRPC_EXPERIMENTS wins, and
TESSERA_GRPC_TUNING=0 leaves gRPC's defaults. A gRPC release without an
experiment logs "Unknown experiment" once and runs with its defaults.

Invariant: only which of gRPC's own endpoint implementations carries the
bytes changes; the HTTP/2 transport, its options and every call's semantics
are gRPC's as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container, MutableMapping

EXPERIMENTS_ENV = "GRPC_EXPERIMENTS"
SWITCH_ENV = "TESSERA_GRPC_TUNING"
POSIX_ENDPOINTS = "-event_engine_client,-event_engine_listener"


def prefer_posix_endpoints(
    environ: MutableMapping[str, str] | None = None, modules: Container[str] | None = None
) -> bool:
    """Turns gRPC's EventEngine client and listener off for this process
    (and the processes it starts) unless the operator chose otherwise; returns whether
    it did. Does nothing once grpc is imported (in-process callers of the
    CLI, tests): it would no longer take effect. environ and modules default
    to the process's own."""
    env = os.environ if environ is None else environ
    loaded = sys.modules if modules is None else modules
    if env.get(SWITCH_ENV) == "0" or EXPERIMENTS_ENV in env or "grpc" in loaded:
        return False
    env[EXPERIMENTS_ENV] = POSIX_ENDPOINTS
    return True
