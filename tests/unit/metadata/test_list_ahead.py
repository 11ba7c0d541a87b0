"""Pages read ahead (metadata/list_ahead.py): which writes make a page stale,
and what becomes of pages nobody may use."""

from __future__ import annotations

import asyncio

import pytest

from metadata import keys, list_ahead
from metadata.list_ahead import BucketWrites, PagesAhead, buckets_of


def test_the_buckets_of_a_write_are_those_of_its_object_and_bucket_keys() -> None:
    written = [
        keys.object_key("photos", "a/b.jpg"),
        keys.bucket_key("docs"),
        keys.request_key("r1"),
        keys.version_namespace("logs") + b"k\x00seq",
        keys.APPLIED,
    ]
    assert buckets_of(written) == {"photos", "docs"}


def test_a_write_to_the_bucket_in_progress_at_the_ticket_or_started_after_it_is_a_change() -> None:
    writes = BucketWrites()
    before = writes.ticket()
    with writes.writing({"a"}):
        during = writes.ticket()
        assert writes.changed("a", before) and writes.changed("a", during)
        assert not writes.changed("b", before)
    after = writes.ticket()
    assert writes.changed("a", before) and writes.changed("a", during)
    assert not writes.changed("a", after)
    with writes.writing(set()):  # a write that changes no listing
        pass
    assert not writes.changed("a", after)


def test_forgetting_the_table_counts_as_a_change_of_every_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(list_ahead, "BUCKETS_TRACKED_MAX", 2)
    writes = BucketWrites()
    ticket = writes.ticket()
    for bucket in ("a", "b", "c", "d"):
        with writes.writing({bucket}):
            pass
    assert writes.changed("never-written", ticket)
    assert not writes.changed("never-written", writes.ticket())


def _pages(clock: list[float]) -> tuple[BucketWrites, PagesAhead[str]]:
    writes = BucketWrites()
    return writes, PagesAhead(writes, clock=lambda: clock[0])


async def _page(text: str) -> str:
    await asyncio.sleep(0)
    return text


async def test_a_page_read_ahead_is_served_once_while_its_bucket_is_unchanged() -> None:
    clock = [0.0]
    writes, pages = _pages(clock)
    pages.read_ahead("a", ("a", "k2"), lambda: _page("page 2"))
    pages.read_ahead("b", ("b", "k2"), lambda: _page("other"))
    with writes.writing({"b"}):
        pass
    assert await pages.take(("a", "k2")) == "page 2"
    assert await pages.take(("a", "k2")) is None  # served once
    assert await pages.take(("b", "k2")) is None  # its bucket changed
    assert await pages.take(("a", "k9")) is None  # never read ahead


async def test_a_write_during_the_read_ahead_or_a_late_request_gets_no_page() -> None:
    clock = [0.0]
    writes, pages = _pages(clock)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "page"

    pages.read_ahead("a", ("a", 1), slow)
    await started.wait()
    with writes.writing({"a"}):
        release.set()
        taken = asyncio.ensure_future(pages.take(("a", 1)))
        await asyncio.sleep(0)
    assert await taken is None

    pages.read_ahead("a", ("a", 2), lambda: _page("page"))
    await asyncio.sleep(0.01)
    clock[0] += list_ahead.PAGE_SECONDS_MAX + 1
    assert await pages.take(("a", 2)) is None


async def test_failed_and_dropped_reads_ahead_leave_the_request_to_read_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(list_ahead, "PAGES_MAX", 2)
    clock = [0.0]
    _, pages = _pages(clock)

    async def fails() -> str:
        raise RuntimeError("no such bucket")

    pages.read_ahead("a", ("a", 0), fails)
    assert await pages.take(("a", 0)) is None
    never = asyncio.Event()

    async def waits() -> str:
        await never.wait()
        return "never"

    pages.read_ahead("a", ("a", 1), waits)
    taken = asyncio.ensure_future(pages.take(("a", 1)))
    await asyncio.sleep(0)
    pages.read_ahead("a", ("a", 2), lambda: _page("2"))
    pages.read_ahead("a", ("a", 3), lambda: _page("3"))  # the oldest, 1, is dropped
    assert await taken is None
    assert await pages.take(("a", 3)) == "3"


async def test_pages_nobody_asked_for_are_dropped_once_too_old_to_serve() -> None:
    clock = [0.0]
    _, pages = _pages(clock)
    pages.read_ahead("a", ("a", 1), lambda: _page("1"))
    await asyncio.sleep(0.01)
    clock[0] += list_ahead.PAGE_SECONDS_MAX + 1
    pages.read_ahead("a", ("a", 2), lambda: _page("2"))
    assert ("a", 1) not in pages._pages
    assert await pages.take(("a", 2)) == "2"
