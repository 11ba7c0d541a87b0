"""Keeping this node in the cluster map: register, then heartbeat.

The node registers with metadata (retrying with capped exponential backoff,
so nodes may start before metadata), then heartbeats every
HEARTBEAT_INTERVAL_SECONDS with its capacity and used bytes. After any failed
call the next attempt registers again: registration is idempotent and carries
everything a heartbeat does, so a metadata service that lost or expired the
node takes it back without a special error code.

Invariant: registered_once turns true after the first successful registration
and never turns false (it is the node's readiness); `healthy` says whether the
last call succeeded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from node import metrics
from tessera import limits
from tessera.model import ClusterMapView, NodeInfo

log = logging.getLogger(__name__)

BACKOFF_MIN_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0


class MembershipClient(Protocol):
    """The part of metadata.client.MetadataClient a node uses. `timeout` is
    the gRPC deadline of that one call (hence ASYNC109 is silenced)."""

    async def register_node(
        self,
        info: NodeInfo,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> ClusterMapView: ...

    async def heartbeat(
        self,
        node_id: str,
        capacity_bytes: int,
        used_bytes: int,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> None: ...


class Membership:
    """Runs the register/heartbeat loop for one node until cancelled."""

    def __init__(
        self,
        client: MembershipClient,
        info: NodeInfo,
        used_bytes: Callable[[], int],
        *,
        interval_seconds: float = limits.HEARTBEAT_INTERVAL_SECONDS,
        register_timeout_seconds: float = limits.METADATA_CALL_TIMEOUT_SECONDS,
        heartbeat_timeout_seconds: float = 2 * limits.HEARTBEAT_INTERVAL_SECONDS,
        backoff_min_seconds: float = BACKOFF_MIN_SECONDS,
        backoff_max_seconds: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self._client = client
        self._info = info
        self._used_bytes = used_bytes
        self._interval_seconds = interval_seconds
        self._register_timeout_seconds = register_timeout_seconds
        self._heartbeat_timeout_seconds = heartbeat_timeout_seconds
        self._backoff_min_seconds = backoff_min_seconds
        self._backoff_max_seconds = backoff_max_seconds
        self.registered_once = False
        self.healthy = False
        self.last_map: ClusterMapView | None = None

    async def run(self) -> None:
        backoff_seconds = self._backoff_min_seconds
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self._tick()
            except Exception as exc:
                failures += 1
                self._mark(healthy=False)
                # The first failure in a row is worth a warning; the rest are noise.
                level = logging.WARNING if failures == 1 else logging.DEBUG
                verb = "register" if not self.registered_once else "reach metadata"
                log.log(level, "could not %s (attempt %d): %s", verb, failures, exc)
                delay = backoff_seconds * random.uniform(0.5, 1.0)
                backoff_seconds = min(backoff_seconds * 2, self._backoff_max_seconds)
            else:
                if failures:
                    log.info("metadata reachable again after %d failed attempts", failures)
                failures = 0
                backoff_seconds = self._backoff_min_seconds
                delay = max(0.0, self._interval_seconds - (time.monotonic() - started))
            await asyncio.sleep(delay)

    async def _tick(self) -> None:
        used = self._used_bytes()
        if not self.healthy:
            info = dataclasses.replace(self._info, used_bytes=used)
            self.last_map = await self._client.register_node(
                info, timeout=self._register_timeout_seconds
            )
            if not self.registered_once:
                log.info("registered as %s at %s", info.node_id, info.address)
            self.registered_once = True
        else:
            # A heartbeat much slower than the interval is as good as missed.
            await self._client.heartbeat(
                self._info.node_id,
                self._info.capacity_bytes,
                used,
                timeout=self._heartbeat_timeout_seconds,
            )
        self._mark(healthy=True)

    def _mark(self, *, healthy: bool) -> None:
        self.healthy = healthy
        metrics.REGISTERED.set(1 if healthy else 0)
