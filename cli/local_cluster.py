"""A whole Tessera cluster as local processes: what `tessera up`, the
integration tests, the benchmarks and chaos runs start.

Layout: one metadata service, nodes_per_zone nodes in each of `zones` zones,
one gateway; every role a real `tessera <role>` process on 127.0.0.1, all
state under one data directory. The first start writes the access key, the
secret key and the internal cluster secret to <data_dir>/cluster.json (mode
0600); later starts reuse them, so a restarted cluster finds all its data.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STOP_GRACE_SECONDS = 15.0


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
    extra_env: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def with_free_ports(data_dir: Path, zones: int = 3, nodes_per_zone: int = 2) -> Layout:
        n = zones * nodes_per_zone
        ports = free_ports(4 + 2 * n)
        return Layout(
            data_dir=data_dir,
            s3_port=ports[0],
            admin_port=ports[1],
            metadata_port=ports[2],
            metadata_http_port=ports[3],
            zones=zones,
            nodes_per_zone=nodes_per_zone,
            node_ports=ports[4:],
        )

    def node_names(self) -> list[tuple[str, str]]:
        """(node id, zone) of every node, zone by zone."""
        names = []
        for z in range(self.zones):
            zone = f"zone-{chr(ord('a') + z)}"
            for i in range(self.nodes_per_zone):
                names.append((f"node-{chr(ord('a') + z)}{i + 1}", zone))
        return names

    def node_port_pair(self, index: int) -> tuple[int, int]:
        if self.node_ports:
            return self.node_ports[2 * index], self.node_ports[2 * index + 1]
        return self.node_base_port + 2 * index, self.node_base_port + 2 * index + 1


class LocalCluster:
    """Starts, watches and stops the processes of a local cluster."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.data_dir = layout.data_dir.resolve()
        self.credentials = Credentials.load_or_create(self.data_dir / "cluster.json")
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)

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

    def _role_env(self, name: str) -> dict[str, str]:
        h = self.layout.host
        lay = self.layout
        if name == "metadata":
            return {
                "TESSERA_DATA_DIR": str(self.data_dir / "metadata"),
                "TESSERA_LISTEN": f"{h}:{lay.metadata_port}",
                "TESSERA_HTTP_LISTEN": f"{h}:{lay.metadata_http_port}",
            }
        if name == "gateway":
            return {
                "TESSERA_LISTEN": f"{h}:{lay.s3_port}",
                "TESSERA_HTTP_LISTEN": f"{h}:{lay.admin_port}",
                "TESSERA_METADATA_ADDRESS": f"{h}:{lay.metadata_port}",
                "TESSERA_ACCESS_KEY": self.credentials.access_key,
                "TESSERA_SECRET_KEY": self.credentials.secret_key,
            }
        for index, (node_id, zone) in enumerate(lay.node_names()):
            if node_id == name:
                grpc_port, http_port = lay.node_port_pair(index)
                return {
                    "TESSERA_NODE_ID": node_id,
                    "TESSERA_ZONE": zone,
                    "TESSERA_DATA_DIR": str(self.data_dir / "nodes" / node_id),
                    "TESSERA_LISTEN": f"{h}:{grpc_port}",
                    "TESSERA_HTTP_LISTEN": f"{h}:{http_port}",
                    "TESSERA_METADATA_ADDRESS": f"{h}:{lay.metadata_port}",
                }
        raise KeyError(name)

    def role_of(self, name: str) -> str:
        return name if name in ("metadata", "gateway") else "node"

    def http_port_of(self, name: str) -> int:
        return int(self._role_env(name)["TESSERA_HTTP_LISTEN"].rsplit(":", 1)[1])

    def node_data_dir(self, node_id: str) -> Path:
        return Path(self._role_env(node_id)["TESSERA_DATA_DIR"])

    def start_process(self, name: str) -> subprocess.Popen[bytes]:
        env = self._base_env()
        env.update(self._role_env(name))
        log = open(self.data_dir / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", self.role_of(name)],
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
        return ["metadata", *[n for n, _ in self.layout.node_names()], "gateway"]

    def start(self) -> None:
        for name in self.names():
            self.start_process(name)

    def is_ready(self, name: str) -> bool:
        url = f"http://{self.layout.host}:{self.http_port_of(name)}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_seconds: float = 60.0, names: list[str] | None = None) -> None:
        deadline = time.monotonic() + timeout_seconds
        pending = list(names or self.names())
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

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def signal(self, name: str, sig: int) -> None:
        proc = self.processes[name]
        if proc.poll() is None:
            os.kill(proc.pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to clean up, as a crash or power loss of the process."""
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait()

    def stop_process(self, name: str, grace_seconds: float = STOP_GRACE_SECONDS) -> int | None:
        proc = self.processes.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        """Stops the gateway, then the nodes, then metadata, each gracefully."""
        order = ["gateway", *[n for n, _ in self.layout.node_names()], "metadata"]
        for name in order:
            if name in self.processes and self.processes[name].poll() is None:
                self.processes[name].send_signal(signal.SIGTERM)
            if name == "gateway":
                self.stop_process("gateway")
        for name in order:
            self.stop_process(name)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
