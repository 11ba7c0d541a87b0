"""A plain HTTP client of the web console with a cookie jar (what a browser
keeps), for tests that drive the console's JSON API against a real cluster."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cli.local_cluster import LocalCluster


def console_url(cluster: LocalCluster) -> str:
    return f"http://127.0.0.1:{cluster.layout.admin_port}/console/"


class ConsoleHttp:
    """A plain HTTP client of the console with a cookie jar (what a browser keeps)."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.base = console_url(cluster).rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""
        self.seen: list[str] = []  # every body and header block received

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None
        all_headers = dict(headers or {})
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif isinstance(body, bytes):
            data = body
        if self.csrf and method not in ("GET", "HEAD"):
            all_headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=all_headers
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), exc.headers
        self.seen.append(raw.decode("utf-8", "replace") + str(dict(got)))
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def sign_in(self, cluster: LocalCluster) -> None:
        form = urllib.parse.urlencode(
            {
                "access_key": cluster.credentials.access_key,
                "secret_key": cluster.credentials.secret_key,
            }
        ).encode()
        status, _ = self.call("POST", "/api/session", form)
        assert status == 200  # 303 to the page, followed
        status, info = self.call("GET", "/api/session")
        assert status == 200
        self.csrf = info["csrf_token"]
