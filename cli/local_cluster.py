"""A whole Tessera cluster as local processes: what `tessera up`, the
integration tests, the benchmarks and chaos runs start.

Layout: an etcd cluster of `etcd_members` members (one per zone; the shared
metadata log and the cluster's small state), `metadata_replicas` metadata
replicas following that log, nodes_per_zone nodes in each of `zones` zones,
one gateway; every role a real process on 127.0.0.1 (etcd is Debian's
etcd-server binary, found on PATH or at $TESSERA_ETCD_BINARY; the others are
`tessera <role>`), all state under one data directory. The first start writes
the access key, the secret key and the internal cluster secret to
<data_dir>/cluster.json (mode 0600); later starts reuse them, so a restarted
cluster finds all its data (etcd members find their own data and peers again).

Before anything starts, start() checks that every storage class the gateway
will offer can be placed on the layout (tessera/storage_class.py).

With metadata_replicas=0 the cluster runs one unreplicated metadata service
and no etcd (the development shape; nothing survives losing it).

add_node(zone) starts one more node in a running cluster (a new disk or host
joining): it registers like any other node, new writes may use it at once,
and the repair leader's rebalance moves about 1/N of the shards onto it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tessera import limits
from tessera.sse_keys import new_master_key_text
from tessera.storage_class import LayoutFit, StorageClass, check_layout, parse_storage_classes

STOP_GRACE_SECONDS = 15.0
# start(): how long one stage waits for the one before (then goes on anyway), and how often it looks
STAGE_WAIT_SECONDS = 10.0
STAGE_POLL_SECONDS = 0.05
ETCD_BINARY_ENV = "TESSERA_ETCD_BINARY"


def etcd_binary() -> str:
    """The etcd server binary (Debian's etcd-server package installs /usr/bin/etcd)."""
    found = os.environ.get(ETCD_BINARY_ENV) or shutil.which("etcd")
    if not found:
        raise RuntimeError(
            "etcd is not installed: run scripts/bootstrap.sh as root (it installs Debian's "
            f"etcd-server), or `apt-get install etcd-server`, or set {ETCD_BINARY_ENV}"
        )
    return found


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """count distinct TCP ports that are free right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ensure_master_key(path: Path) -> Path:
    """The cluster master key file of encryption at rest (docs/encryption.md),
    created with a fresh random key (mode 0600) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_master_key_text() + "\n")
            f.flush()
            os.fsync(f.fileno())
    return path


@dataclass
class Credentials:
    access_key: str
    secret_key: str
    cluster_secret: str

    @staticmethod
    def load_or_create(path: Path) -> Credentials:
        if path.exists():
            return Credentials(**json.loads(path.read_text()))
        creds = Credentials(
            access_key="TS" + secrets.token_hex(9).upper(),
            secret_key=secrets.token_urlsafe(30),
            cluster_secret=secrets.token_urlsafe(32),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(creds.__dict__, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        return creds


@dataclass
class Layout:
    data_dir: Path
    host: str = "127.0.0.1"
    s3_port: int = 9000
    admin_port: int = 9001
    metadata_port: int = 9100
    metadata_http_port: int = 9101
    node_base_port: int = 9200  # node i: grpc base + 2i, http base + 2i + 1
    zones: int = 3
    nodes_per_zone: int = 2
    node_ports: list[int] = field(default_factory=list)  # overrides node_base_port
    data_shards: int = 0  # the gateway's k (0: its default)
    parity_shards: int = 0  # the gateway's m (0: its default)
    # the gateway's storage classes, NAME=k+m,... ("": its default, docs/storage-classes.md)
    storage_classes: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    metadata_replicas: int = 3  # 0: one unreplicated metadata service, no etcd
    etcd_members: int = 3
    # replica i: grpc metadata_port + 2i, http + 2i + 1 (unless listed: grpc, http, ...)
    metadata_ports: list[int] = field(default_factory=list)
    etcd_base_port: int = 0  # member i: client base + 2i, peer + 2i + 1 (0: metadata_port + 50)
    etcd_ports: list[int] = field(default_factory=list)  # overrides etcd_base_port
    website_port: int = 0  # the gateway's static website endpoint (0: none)
    # nodes added to a running cluster: (node id, zone, grpc port, http port)
    added_nodes: list[tuple[str, str, int, int]] = field(default_factory=list)

    @staticmethod
    def with_free_ports(
        data_dir: Path, zones: int = 3, nodes_per_zone: int = 2, metadata_replicas: int = 3
    ) -> Layout:
        n = zones * nodes_per_zone
        replicas = max(1, metadata_replicas)
        members = 3 if metadata_replicas else 0
        ports = free_ports(3 + 2 * replicas + 2 * members + 2 * n)
        meta = ports[2 : 2 + 2 * replicas]
        etcd = ports[2 + 2 * replicas : 2 + 2 * replicas + 2 * members]
        return Layout(
            data_dir=data_dir,
            s3_port=ports[0],
            admin_port=ports[1],
            metadata_port=meta[0],
            metadata_http_port=meta[1],
            zones=zones,
            nodes_per_zone=nodes_per_zone,
            node_ports=ports[2 + 2 * replicas + 2 * members : -1],
            website_port=ports[-1],
            metadata_replicas=metadata_replicas,
            etcd_members=members,
            metadata_ports=meta,
            etcd_ports=etcd,
        )

    def metadata_names(self) -> list[str]:
        if not self.metadata_replicas:
            return ["metadata"]
        return [f"metadata-{i + 1}" for i in range(self.metadata_replicas)]

    def etcd_names(self) -> list[str]:
        if not self.metadata_replicas:
            return []
        return [f"etcd-{i + 1}" for i in range(self.etcd_members)]

    def metadata_port_pair(self, index: int) -> tuple[int, int]:
        if self.metadata_ports:
            return self.metadata_ports[2 * index], self.metadata_ports[2 * index + 1]
        if index == 0:
            return self.metadata_port, self.metadata_http_port
        return self.metadata_port + 2 * index, self.metadata_port + 2 * index + 1

    def etcd_port_pair(self, index: int) -> tuple[int, int]:
        if self.etcd_ports:
            return self.etcd_ports[2 * index], self.etcd_ports[2 * index + 1]
        base = self.etcd_base_port or self.metadata_port + 50
        return base + 2 * index, base + 2 * index + 1

    def metadata_addresses(self) -> str:
        """Every replica's gRPC host:port, comma-separated (what clients are given)."""
        pairs = [self.metadata_port_pair(i) for i in range(len(self.metadata_names()))]
        return ",".join(f"{self.host}:{grpc}" for grpc, _ in pairs)

    def etcd_client_urls(self) -> str:
        pairs = [self.etcd_port_pair(i) for i in range(len(self.etcd_names()))]
        return ",".join(f"http://{self.host}:{client}" for client, _ in pairs)

    def node_names(self) -> list[tuple[str, str]]:
        """(node id, zone) of every node, zone by zone."""
        names = []
        for z in range(self.zones):
            zone = f"zone-{chr(ord('a') + z)}"
            for i in range(self.nodes_per_zone):
                names.append((f"node-{chr(ord('a') + z)}{i + 1}", zone))
        names.extend((node_id, zone) for node_id, zone, _, _ in self.added_nodes)
        return names

    def storage_classes_table(self) -> dict[str, StorageClass]:
        """The classes the gateway will offer (StorageClassError when malformed)."""
        text = self.storage_classes or self.extra_env.get("TESSERA_STORAGE_CLASSES", "")
        k = self.data_shards or int(
            self.extra_env.get("TESSERA_DATA_SHARDS", limits.DATA_SHARDS_DEFAULT)
        )
        m = self.parity_shards or int(
            self.extra_env.get("TESSERA_PARITY_SHARDS", limits.PARITY_SHARDS_DEFAULT)
        )
        return parse_storage_classes(text, k, m)

    def storage_class_fits(self) -> list[LayoutFit]:
        """What each class promises on this layout; StorageClassError when a
        class cannot be placed on it (tessera/storage_class.py)."""
        nodes_per_zone: dict[str, int] = {}
        for _, zone in self.node_names():
            nodes_per_zone[zone] = nodes_per_zone.get(zone, 0) + 1
        return check_layout(self.storage_classes_table(), nodes_per_zone)

    def node_port_pair(self, index: int) -> tuple[int, int]:
        first_added = self.zones * self.nodes_per_zone
        if index >= first_added:
            _, _, grpc_port, http_port = self.added_nodes[index - first_added]
            return grpc_port, http_port
        if self.node_ports:
            return self.node_ports[2 * index], self.node_ports[2 * index + 1]
        return self.node_base_port + 2 * index, self.node_base_port + 2 * index + 1


class LocalCluster:
    """Starts, watches and stops the processes of a local cluster."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.data_dir = layout.data_dir.resolve()
        self.credentials = Credentials.load_or_create(self.data_dir / "cluster.json")
        self.master_key_file = ensure_master_key(self.data_dir / "master.key")
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def website_endpoint(self) -> str:
        """The static website endpoint (path style: <endpoint>/<bucket>/<key>)."""
        scheme = "https" if "TESSERA_TLS_CERT_FILE" in self.layout.extra_env else "http"
        return f"{scheme}://{self.layout.host}:{self.layout.website_port}"

    @property
    def endpoint(self) -> str:
        scheme = "https" if "TESSERA_TLS_CERT_FILE" in self.layout.extra_env else "http"
        return f"{scheme}://{self.layout.host}:{self.layout.s3_port}"

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.layout.extra_env)
        env["TESSERA_CLUSTER_SECRET"] = self.credentials.cluster_secret
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _resolve(self, name: str) -> str:
        """ "metadata" names the first replica when metadata is replicated."""
        if name == "metadata" and self.layout.metadata_replicas:
            return self.layout.metadata_names()[0]
        return name

    def _role_env(self, name: str) -> dict[str, str]:
        h = self.layout.host
        lay = self.layout
        name = self._resolve(name)
        if name in lay.metadata_names():
            index = lay.metadata_names().index(name)
            grpc_port, http_port = lay.metadata_port_pair(index)
            env = {
                "TESSERA_DATA_DIR": str(self.data_dir / "metadata"),
                "TESSERA_LISTEN": f"{h}:{grpc_port}",
                "TESSERA_HTTP_LISTEN": f"{h}:{http_port}",
            }
            if lay.metadata_replicas:
                env["TESSERA_DATA_DIR"] = str(self.data_dir / "metadata" / name)
                env["TESSERA_ETCD_ENDPOINTS"] = lay.etcd_client_urls()
                env["TESSERA_REPLICA_ID"] = name
            return env
        if name == "gateway":
            env = {
                "TESSERA_LISTEN": f"{h}:{lay.s3_port}",
                "TESSERA_HTTP_LISTEN": f"{h}:{lay.admin_port}",
                "TESSERA_METADATA_ADDRESS": lay.metadata_addresses(),
                "TESSERA_ACCESS_KEY": self.credentials.access_key,
                "TESSERA_SECRET_KEY": self.credentials.secret_key,
                "TESSERA_MASTER_KEY_FILE": str(self.master_key_file),
            }
            if lay.website_port:
                env["TESSERA_WEBSITE_LISTEN"] = f"{h}:{lay.website_port}"
            if lay.data_shards:
                env["TESSERA_DATA_SHARDS"] = str(lay.data_shards)
            if lay.parity_shards:
                env["TESSERA_PARITY_SHARDS"] = str(lay.parity_shards)
            if lay.storage_classes:
                env["TESSERA_STORAGE_CLASSES"] = lay.storage_classes
            return env
        for index, (node_id, zone) in enumerate(lay.node_names()):
            if node_id == name:
                grpc_port, http_port = lay.node_port_pair(index)
                return {
                    "TESSERA_NODE_ID": node_id,
                    "TESSERA_ZONE": zone,
                    "TESSERA_DATA_DIR": str(self.data_dir / "nodes" / node_id),
                    "TESSERA_LISTEN": f"{h}:{grpc_port}",
                    "TESSERA_HTTP_LISTEN": f"{h}:{http_port}",
                    "TESSERA_METADATA_ADDRESS": lay.metadata_addresses(),
                }
        raise KeyError(name)

    def role_of(self, name: str) -> str:
        name = self._resolve(name)
        if name in self.layout.metadata_names():
            return "metadata"
        if name in self.layout.etcd_names():
            return "etcd"
        return name if name == "gateway" else "node"

    def http_port_of(self, name: str) -> int:
        name = self._resolve(name)
        if name in self.layout.etcd_names():
            return self.layout.etcd_port_pair(self.layout.etcd_names().index(name))[0]
        return int(self._role_env(name)["TESSERA_HTTP_LISTEN"].rsplit(":", 1)[1])

    def grpc_address_of(self, name: str) -> str:
        """A metadata replica's or node's gRPC host:port."""
        return self._role_env(name)["TESSERA_LISTEN"]

    def node_data_dir(self, node_id: str) -> Path:
        return Path(self._role_env(node_id)["TESSERA_DATA_DIR"])

    def metadata_data_dir(self, name: str) -> Path:
        return Path(self._role_env(name)["TESSERA_DATA_DIR"])

    def etcd_data_dir(self, name: str) -> Path:
        return self.data_dir / "etcd" / name

    def _etcd_command(self, name: str) -> list[str]:
        lay = self.layout
        h = lay.host
        members = []
        for i, member in enumerate(lay.etcd_names()):
            members.append(f"{member}=http://{h}:{lay.etcd_port_pair(i)[1]}")
        client, peer = lay.etcd_port_pair(lay.etcd_names().index(name))
        token = "tessera-" + hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        # On a restart etcd ignores the --initial-* flags and uses its data dir.
        return [
            etcd_binary(),
            "--name", name,
            "--data-dir", str(self.etcd_data_dir(name)),
            "--listen-client-urls", f"http://{h}:{client}",
            "--advertise-client-urls", f"http://{h}:{client}",
            "--listen-peer-urls", f"http://{h}:{peer}",
            "--initial-advertise-peer-urls", f"http://{h}:{peer}",
            "--initial-cluster", ",".join(members),
            "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]  # fmt: skip

    def start_process(
        self, name: str, command_prefix: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts one role; command_prefix runs it through a wrapper (the fault
        tests use one that puts the process in its own cgroup first)."""
        name = self._resolve(name)
        env = self._base_env()
        if self.role_of(name) == "etcd":
            command = self._etcd_command(name)
            self.etcd_data_dir(name).parent.mkdir(parents=True, exist_ok=True)
        else:
            env.update(self._role_env(name))
            command = [sys.executable, "-m", "cli.main", self.role_of(name)]
        command = [*(command_prefix or []), *command]
        log = open(self.data_dir / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops children in order
        )
        log.close()
        self.processes[name] = proc
        return proc

    def names(self) -> list[str]:
        return [
            *self.layout.etcd_names(),
            *self.layout.metadata_names(),
            *[n for n, _ in self.layout.node_names()],
            "gateway",
        ]

    def start(
        self,
        names: Iterable[str] | None = None,
        start_one: Callable[[str], object] | None = None,
    ) -> None:
        """Starts every role (or the ones named), in stages
        (docs/local-cluster.md, "Start order"): the etcd members one at a time,
        each once the one before answers; the metadata replicas once etcd
        answers; the nodes and the gateway once the replicas are ready. A
        stage that is slow only delays the next one by at most
        STAGE_WAIT_SECONDS: wait_ready is what decides that the cluster
        started. A storage class that cannot be placed on the layout raises
        StorageClassError before any process starts (when the gateway is one of
        them: the classes are the gateway's). start_one(name) starts one role
        (default start_process; the chaos harness wraps it in its cgroups)."""
        launch = start_one or self.start_process
        chosen = set(self.names()) if names is None else {self._resolve(n) for n in names}
        if "gateway" in chosen:
            self.layout.storage_class_fits()
        for name in self.layout.etcd_names():
            if name in chosen:
                launch(name)
                self._wait_stage([name], self._etcd_serves)
        metadata = [n for n in self.layout.metadata_names() if n in chosen]
        for name in metadata:
            launch(name)
        etcd = self.layout.etcd_names()
        rest = [n for n in self.names() if n in chosen and n not in metadata and n not in etcd]
        if metadata and rest:
            self._wait_stage(metadata, self.is_ready)
        for name in rest:
            launch(name)

    def _wait_stage(self, names: list[str], check: Callable[[str], bool]) -> None:
        """Until check holds for every name, one of them exited, or
        STAGE_WAIT_SECONDS passed: the next stage starts either way."""
        deadline = time.monotonic() + STAGE_WAIT_SECONDS
        pending = list(names)
        while pending and time.monotonic() < deadline:
            pending = [n for n in pending if self.processes[n].poll() is None and not check(n)]
            if pending:
                time.sleep(STAGE_POLL_SECONDS)

    def _etcd_serves(self, name: str) -> bool:
        """Whether the etcd member answers on its peer port (which it serves
        before the members have a leader; its client port waits for one)."""
        peer = self.layout.etcd_port_pair(self.layout.etcd_names().index(name))[1]
        url = f"http://{self.layout.host}:{peer}/version"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def add_node(self, zone: str, timeout_seconds: float = 60.0) -> str:
        """Starts one more node in `zone` (e.g. "zone-a"; a new zone is fine)
        and waits until it is ready (registered); returns its node id.

        Its id continues the zone's numbering ("node-a4" after node-a1..a3)."""
        taken = {node_id for node_id, _ in self.layout.node_names()}
        letter = zone.removeprefix("zone-")
        number = 1
        while f"node-{letter}{number}" in taken:
            number += 1
        node_id = f"node-{letter}{number}"
        grpc_port, http_port = free_ports(2, self.layout.host)
        self.layout.added_nodes.append((node_id, zone, grpc_port, http_port))
        self.start_process(node_id)
        self.wait_ready(timeout_seconds, [node_id])
        return node_id

    def is_ready(self, name: str) -> bool:
        path = "/health" if self.role_of(name) == "etcd" else "/readyz"
        url = f"http://{self.layout.host}:{self.http_port_of(name)}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_seconds: float = 60.0, names: list[str] | None = None) -> None:
        deadline = time.monotonic() + timeout_seconds
        pending = [self._resolve(n) for n in names or self.names()]
        while pending:
            for name in list(pending):
                proc = self.processes.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.log_path(name)}"
                    )
                if self.is_ready(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout_seconds}s: {pending}")
            if pending:
                time.sleep(0.2)
        if names is None and "gateway" in self.processes:
            self._wait_gateway_sees_nodes(deadline)

    def _wait_gateway_sees_nodes(self, deadline: float) -> None:
        """A node is ready once it has registered, but the gateway polls the
        cluster map once a second: until it has every node, new objects are
        placed on fewer nodes and the rebalance moves them later (a test that
        damages a shard must not race that move)."""
        expected = sum(1 for n, _ in self.layout.node_names() if n in self.processes)
        while (seen := self._gateway_map_up_nodes()) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway's map has {seen} of {expected} nodes up")
            time.sleep(0.1)

    def _gateway_map_up_nodes(self) -> int:
        url = f"http://{self.layout.host}:{self.layout.admin_port}/metrics"
        try:
            value = metric_series(url, 'tessera_gateway_cluster_map_nodes{state="up"}')
        except (urllib.error.URLError, OSError):
            return 0
        return 0 if value is None else int(value)

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{self._resolve(name)}.log"

    def signal(self, name: str, sig: int) -> None:
        proc = self.processes[self._resolve(name)]
        if proc.poll() is None:
            os.kill(proc.pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to clean up, as a crash or power loss of the process."""
        self.signal(name, signal.SIGKILL)
        self.processes[self._resolve(name)].wait()

    def stop_process(self, name: str, grace_seconds: float = STOP_GRACE_SECONDS) -> int | None:
        proc = self.processes.get(self._resolve(name))
        if proc is None:
            return None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped (SIGSTOP) process cannot exit
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        """Stops the gateway, then the nodes and metadata replicas, then etcd,
        each gracefully."""
        order = [
            "gateway",
            *[n for n, _ in self.layout.node_names()],
            *self.layout.metadata_names(),
        ]
        for name in order:
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
            if name == "gateway":
                self.stop_process("gateway")
        for name in [*order, *self.layout.etcd_names()]:
            self.stop_process(name)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def metric_series(url: str, series: str) -> float | None:
    """One series (its name with labels, as /metrics prints it) at url, or
    None when it is not there; raises what urlopen raises."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
    return None
