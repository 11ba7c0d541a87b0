"""Debian's nginx as a caching reverse proxy (proxy_cache) in front of a
cluster, for the CDN tests: the test writes nginx.conf into a temporary
folder, starts nginx in the foreground (daemon off, its pid file and cache
there too), listening on 127.0.0.1 only, and stops it.

Every answer carries X-Cache-Status ($upstream_cache_status: MISS, HIT,
EXPIRED, REVALIDATED, BYPASS, ...), which is what the tests read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from cli.local_cluster import free_ports

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_SECONDS_MAX = 20.0
STOP_SECONDS_MAX = 10.0

CONF = """\
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy_temp;
    fastcgi_temp_path {root}/fastcgi_temp;
    uwsgi_temp_path {root}/uwsgi_temp;
    scgi_temp_path {root}/scgi_temp;
    proxy_cache_path {root}/cache levels=1:2 keys_zone=tessera:4m max_size=256m
                     inactive=10m use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{origin_port};
            proxy_http_version 1.1;
            # The Host the client signed (SigV4 signs it) goes to the origin.
            proxy_set_header Host $http_host;
            proxy_cache tessera;
            # Revalidate an expired entry with If-None-Match / If-Modified-Since.
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


class NginxCache:
    def __init__(self, root: Path, origin_port: int) -> None:
        self.root = root
        self.port = free_ports(1)[0]
        user = "user root;" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(
            CONF.format(user=user, root=root, port=self.port, origin_port=origin_port)
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.root), "-c", str(self.root / "nginx.conf"),
             "-e", str(self.root / "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS_MAX
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"nginx did not listen within {START_SECONDS_MAX}s")

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
        try:
            self.process.wait(STOP_SECONDS_MAX)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def require_nginx() -> None:
    """Skips where nginx is not installed, except on CI (bootstrap --test installs it)."""
    if os.path.exists(NGINX):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{NGINX} missing: run scripts/bootstrap.sh --test as root")
    pytest.skip("Debian's nginx is not installed")
