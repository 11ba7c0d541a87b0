"""Plain HTTP requests for tests that must see exactly what a server answers:
no redirects followed, no signing, headers as sent (http.client)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from email.message import Message


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    host: str = "127.0.0.1",
) -> Answer:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return Answer(answer.status, answer.headers, answer.read())
    finally:
        connection.close()
