"""The gateway's request meter: counting by hour and bucket, flushes that keep
their request id until acknowledged, bounded memory."""

from __future__ import annotations

from typing import Any

from gateway import usage_meter
from gateway.usage_meter import UsageMeter, meterable_bucket
from tessera import errors
from tessera.usage import RequestCounters


class FlakyMetadata:
    """Records every flush it is sent; fails the first `failures` of them."""

    def __init__(self, failures: int = 0, error: type[errors.TesseraError] = errors.SlowDown):
        self.failures = failures
        self.error = error
        self.sent: list[tuple[str, list[tuple[int, str, RequestCounters]]]] = []
        self.acknowledged: list[str] = []

    async def record_request_usage(
        self,
        request_id: str,
        records: list[tuple[int, str, RequestCounters]],
        retention_hours: int,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        self.sent.append((request_id, records))
        if self.failures:
            self.failures -= 1
            raise self.error("no")
        self.acknowledged.append(request_id)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def meter(metadata: Any, clock: Clock) -> UsageMeter:
    return UsageMeter(metadata, flush_seconds=10, retention_hours=24, clock=clock)


async def test_counts_by_hour_bucket_and_class() -> None:
    metadata = FlakyMetadata()
    clock = Clock(3600 * 10 + 5)
    m = meter(metadata, clock)
    m.note("b", "PutObject", {usage_meter.BYTES_IN: 100})  # type: ignore[arg-type]
    m.note("b", "GetObject", {usage_meter.BYTES_OUT: 40})  # type: ignore[arg-type]
    m.note("b", "DeleteObject", {})  # type: ignore[arg-type]
    clock.now += 3600
    m.note("b", "ListObjectsV2", {})  # type: ignore[arg-type]
    assert await m.flush(1.0)
    ((_, records),) = metadata.sent
    assert sorted(records) == [
        (10, "b", RequestCounters(put_class=1, get_class=1, delete=1, bytes_in=100, bytes_out=40)),
        (11, "b", RequestCounters(put_class=1)),
    ]
    assert await m.flush(1.0)
    assert len(metadata.sent) == 1  # nothing new: nothing sent


async def test_an_unacknowledged_flush_is_sent_again_with_its_id() -> None:
    metadata = FlakyMetadata(failures=2)
    m = meter(metadata, Clock(0))
    m.note("b", "PutObject", {})  # type: ignore[arg-type]
    assert not await m.flush(1.0)
    m.note("b", "PutObject", {})  # type: ignore[arg-type]
    assert not await m.flush(1.0)  # still the first flush failing; the second waits behind
    assert await m.flush(1.0)
    ids = [request_id for request_id, _ in metadata.sent]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert metadata.acknowledged == [ids[0], ids[3]]


async def test_a_refused_flush_is_not_retried_forever() -> None:
    metadata = FlakyMetadata(failures=1, error=errors.InvalidArgument)
    m = meter(metadata, Clock(0))
    m.note("b", "PutObject", {})  # type: ignore[arg-type]
    assert await m.flush(1.0)
    assert len(metadata.sent) == 1 and metadata.acknowledged == []


async def test_memory_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(usage_meter, "PENDING_BUCKETS_MAX", 3)
    monkeypatch.setattr(usage_meter, "UNSENT_FLUSHES_MAX", 2)
    metadata = FlakyMetadata(failures=100)
    m = meter(metadata, Clock(0))
    for name in ("a", "b", "c", "d", "e"):
        m.note(name, "GetObject", {})  # type: ignore[arg-type]
    for _ in range(4):
        assert not await m.flush(1.0)
        m.note("a", "GetObject", {})  # type: ignore[arg-type]
    first_records = metadata.sent[0][1]
    assert sorted(b for _, b, _ in first_records) == ["", "a", "b", "c"]
    assert sum(c.get_class for _, b, c in first_records if b == "") == 2
    assert len(m._unsent) == 2


def test_bucket_names_metadata_could_not_hold_count_under_none() -> None:
    assert meterable_bucket("photos") == "photos"
    assert meterable_bucket("a" * 300) == ""
    assert meterable_bucket("bad\x00name") == ""
    assert meterable_bucket("\udcff") == ""
