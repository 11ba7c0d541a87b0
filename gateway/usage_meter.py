"""Request metering: counts every S3 request by hour, bucket and billing class,
with object bytes in and out, and flushes the counts to metadata
(docs/usage-and-quotas.md).

A flush takes the counts gathered so far, names them with a request id of its
own (this process's random id and a sequence number) and sends them as one
RecordRequestUsage. Until metadata has acknowledged it, the flush is kept and
sent again with the same request id, so a flush whose answer was lost is
counted exactly once. What a crash loses: the counts gathered since the last
flush left this process (at most usage_flush_seconds of requests), plus
unsent flushes; a graceful stop flushes first.

Invariants: memory is bounded (at most PENDING_BUCKETS_MAX distinct buckets
per hour are kept apart — further ones count under "" — and at most
UNSENT_FLUSHES_MAX flushes wait, the oldest dropped and logged); flushes are
sent in order, one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web

from gateway import metrics
from metadata.client import MetadataClient
from tessera import errors
from tessera.usage import RequestCounters, hour_of, one_request, request_class

log = logging.getLogger(__name__)

PENDING_BUCKETS_MAX = 4096
UNSENT_FLUSHES_MAX = 360
FLUSH_TIMEOUT_SECONDS = 5.0
BUCKET_NAME_MAX_BYTES = 255
BYTES_IN = "tessera.usage.bytes_in"
BYTES_OUT = "tessera.usage.bytes_out"

Records = list[tuple[int, str, RequestCounters]]


def add_bytes_in(request: web.Request, size_bytes: int) -> None:
    """Object bytes this request stored (a PUT's, a part's or a form's body)."""
    request[BYTES_IN] = request.get(BYTES_IN, 0) + size_bytes


def add_bytes_out(request: web.Request, size_bytes: int) -> None:
    """Object bytes this request sent (a GET's body)."""
    request[BYTES_OUT] = request.get(BYTES_OUT, 0) + size_bytes


def meterable_bucket(name: str) -> str:
    """The bucket name to count under: "" for none, or one metadata could never
    hold (too long, not UTF-8, with NUL or "/")."""
    try:
        raw = name.encode()
    except UnicodeEncodeError:
        return ""
    if len(raw) > BUCKET_NAME_MAX_BYTES or b"\x00" in raw or b"/" in raw:
        return ""
    return name


class UsageMeter:
    def __init__(
        self,
        metadata: MetadataClient,
        flush_seconds: float,
        retention_hours: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert flush_seconds > 0 and retention_hours > 0
        self._metadata = metadata
        self._flush_seconds = flush_seconds
        self._retention_hours = retention_hours
        self._clock = clock
        self._pending: dict[tuple[int, str], RequestCounters] = {}
        self._unsent: deque[tuple[str, Records]] = deque()
        self._flush_prefix = f"usage/{secrets.token_hex(8)}/"
        self._sequence = 0
        self._sending = asyncio.Lock()

    def note(self, bucket: str, operation: str, request: web.Request) -> None:
        """Counts one answered request."""
        bucket = meterable_bucket(bucket)
        hour = hour_of(self._clock())
        key = (hour, bucket)
        if key not in self._pending and len(self._pending) >= PENDING_BUCKETS_MAX:
            key = (hour, "")
        counted = one_request(operation, request.get(BYTES_IN, 0), request.get(BYTES_OUT, 0))
        self._pending[key] = self._pending.get(key, RequestCounters()) + counted
        metrics.USAGE_REQUESTS.labels(request_class(operation)).inc()

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Sends what was counted so far (and earlier unsent flushes); True when
        nothing is left unsent."""
        if self._pending:
            records = [(hour, bucket, c) for (hour, bucket), c in self._pending.items()]
            self._pending = {}
            self._sequence += 1
            self._unsent.append((f"{self._flush_prefix}{self._sequence}", records))
            while len(self._unsent) > UNSENT_FLUSHES_MAX:
                request_id, dropped = self._unsent.popleft()
                log.warning("usage flush %s dropped unsent (%d records)", request_id, len(dropped))
                metrics.USAGE_FLUSHES.labels("dropped").inc()
        async with self._sending:
            while self._unsent:
                request_id, records = self._unsent[0]
                try:
                    await self._metadata.record_request_usage(
                        request_id, records, self._retention_hours, timeout=timeout
                    )
                except errors.TesseraError as exc:
                    if exc.http_status < 500:  # refused as malformed: sending again cannot help
                        log.error("usage flush %s refused: %s", request_id, exc.message)
                        self._unsent.popleft()
                        metrics.USAGE_FLUSHES.labels("refused").inc()
                        continue
                    log.info("usage flush %s not acknowledged, kept: %s", request_id, exc.code)
                    metrics.USAGE_FLUSHES.labels("failed").inc()
                    return False
                self._unsent.popleft()
                metrics.USAGE_FLUSHES.labels("ok").inc()
        return True

    async def run(self) -> None:
        """Flushes every flush_seconds (a server lifetime task)."""
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush(FLUSH_TIMEOUT_SECONDS)


def mount_flush(ops_app: web.Application, meter: UsageMeter) -> None:
    """POST /usage/flush on the ops port: sends the counts now (before reading
    usage for a bill, or in tests); 200 once nothing is left unsent, else 503."""

    async def flush(request: web.Request) -> web.Response:
        if await meter.flush(FLUSH_TIMEOUT_SECONDS):
            return web.Response(text="flushed\n")
        return web.Response(status=503, text="metadata did not acknowledge; kept for later\n")

    ops_app.router.add_post("/usage/flush", flush)
