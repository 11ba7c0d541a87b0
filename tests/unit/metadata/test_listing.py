"""The ListObjectsV2 walk against a naive reference, on random keys."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from metadata.listing import ListWalk, walk
from metadata.mutations import CreateBucket, LogEntry, PutObject
from metadata.state import StateMachine, open_db
from tessera.model import ObjectVersion

NAMESPACE = b"o/bucket\x00"
VersionFactory = Callable[..., ObjectVersion]


class SortedCursor:
    """An in-memory Cursor over sorted bytes keys; counts its steps."""

    def __init__(self, items: dict[bytes, bytes]) -> None:
        self._keys = sorted(items)
        self._items = items
        self._at = 0
        self.steps = 0

    def seek(self, key: bytes) -> None:
        self.steps += 1
        self._at = bisect.bisect_left(self._keys, key)

    def valid(self) -> bool:
        return self._at < len(self._keys)

    def key(self) -> bytes:
        return self._keys[self._at]

    def value(self) -> bytes:
        return self._items[self._keys[self._at]]

    def next(self) -> None:
        self.steps += 1
        self._at += 1


def cursor_over(object_keys: list[str], namespace: bytes = NAMESPACE) -> SortedCursor:
    items = {namespace + k.encode(): k.encode() for k in object_keys}
    # Neighbouring namespaces must never leak into the listing.
    items[b"o/bucket-2\x00" + b"a"] = b"other bucket"
    items[b"o/buck\x00" + b"a"] = b"other bucket"
    items[b"p/"] = b"other table"
    return SortedCursor(items)


def naive(
    object_keys: list[str], prefix: str, delimiter: str, start_after: str, max_keys: int
) -> tuple[list[str], list[str], bool, str]:
    """S3's rules written the slow way: every key, in UTF-8 byte order."""
    entries: list[tuple[str, str]] = []
    for key in sorted(set(object_keys), key=lambda k: k.encode()):
        if not key.startswith(prefix) or key.encode() <= start_after.encode():
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if common == start_after or ("prefix", common) in entries:
                continue
            entries.append(("prefix", common))
        else:
            entries.append(("key", key))
    page = entries[: max(max_keys, 0)]
    return (
        [name for kind, name in page if kind == "key"],
        [name for kind, name in page if kind == "prefix"],
        len(entries) > len(page) and max_keys > 0,
        page[-1][1] if page else "",
    )


def flat(result: ListWalk) -> tuple[list[str], list[str], bool, str]:
    return (
        [key for key, _ in result.objects],
        list(result.common_prefixes),
        result.is_truncated,
        result.next_start_after,
    )


ALPHABET = ["a", "b", "/", "-", "é", "\U0001f600", "\x00"]
text = st.lists(st.sampled_from(ALPHABET), max_size=5).map("".join)
key_lists = st.lists(text.filter(bool), max_size=30)


def boundaries(object_keys: list[str]) -> st.SearchStrategy[str]:
    """start_after values worth trying: random text, or a key or any prefix of one
    (which hits common prefixes exactly)."""
    cuts = sorted({k[:i] for k in object_keys for i in range(len(k) + 1)})
    return st.one_of(text, st.sampled_from(cuts)) if cuts else text


@settings(max_examples=500, deadline=None)
@given(
    object_keys=key_lists,
    delimiter=st.sampled_from(["", "/", "b", "é/", "\U0001f600"]),
    max_keys=st.integers(min_value=0, max_value=8),
    data=st.data(),
)
def test_walk_matches_reference(
    object_keys: list[str], delimiter: str, max_keys: int, data: st.DataObject
) -> None:
    prefix = data.draw(boundaries(object_keys), label="prefix")
    start_after = data.draw(boundaries(object_keys), label="start_after")
    result = walk(cursor_over(object_keys), NAMESPACE, prefix, delimiter, start_after, max_keys)
    assert flat(result) == naive(object_keys, prefix, delimiter, start_after, max_keys)
    for key, value in result.objects:
        assert value == key.encode()


@settings(max_examples=200, deadline=None)
@given(
    object_keys=key_lists,
    prefix=text,
    delimiter=st.sampled_from(["", "/", "b"]),
    max_keys=st.integers(min_value=1, max_value=4),
)
def test_paging_with_next_start_after_lists_everything_once(
    object_keys: list[str], prefix: str, delimiter: str, max_keys: int
) -> None:
    everything = naive(object_keys, prefix, delimiter, "", 10_000)
    seen_keys: list[str] = []
    seen_prefixes: list[str] = []
    start_after = ""
    for _ in range(100):
        page = walk(cursor_over(object_keys), NAMESPACE, prefix, delimiter, start_after, max_keys)
        seen_keys += [k for k, _ in page.objects]
        seen_prefixes += page.common_prefixes
        if not page.is_truncated:
            break
        assert len(page.objects) + len(page.common_prefixes) == max_keys
        start_after = page.next_start_after
    assert (seen_keys, seen_prefixes) == (everything[0], everything[1])


def test_max_keys_zero_returns_nothing() -> None:
    result = walk(cursor_over(["a", "b"]), NAMESPACE, "", "", "", 0)
    assert result == ListWalk((), (), False, "")


def test_start_after_inside_a_common_prefix_returns_it() -> None:
    keys = ["a/1", "a/2", "b"]
    result = walk(cursor_over(keys), NAMESPACE, "", "/", "a/1", 10)
    assert flat(result) == (["b"], ["a/"], False, "b")
    result = walk(cursor_over(keys), NAMESPACE, "", "/", "a/2", 10)
    assert flat(result) == (["b"], [], False, "b")


def test_a_common_prefix_is_skipped_with_one_seek() -> None:
    keys = [f"big/{i:05d}" for i in range(5000)] + ["a", "big", "zz/1", "zz/2"]
    cursor = cursor_over(keys)
    result = walk(cursor, NAMESPACE, "", "/", "", 1000)
    assert flat(result) == (["a", "big"], ["big/", "zz/"], False, "zz/")
    assert cursor.steps < 20


def test_truncation_stops_at_the_next_entry() -> None:
    cursor = cursor_over([f"k{i:04d}" for i in range(1000)])
    result = walk(cursor, NAMESPACE, "", "", "", 10)
    assert result.is_truncated and result.next_start_after == "k0009"
    assert cursor.steps <= 12


def test_list_objects_on_rocksdict_matches_reference(
    tmp_path: Path, make_version: VersionFactory
) -> None:
    rng = random.Random(20240601)
    pieces = ["a", "b", "/", "-", "é", "\U0001f600", "dir/", "x"]
    object_keys = sorted({"".join(rng.choices(pieces, k=rng.randint(1, 6))) for _ in range(400)})
    db = open_db(str(tmp_path / "db"))
    try:
        state = StateMachine(db)
        entries = [
            LogEntry(1, CreateBucket("c1", "bucket", "alice", 1.0)),
            LogEntry(2, CreateBucket("c2", "bucket-2", "alice", 1.0)),
        ]
        entries += [
            LogEntry(3 + i, PutObject(f"p{i}", make_version("bucket", key)))
            for i, key in enumerate(object_keys)
        ]
        entries.append(LogEntry(10_000, PutObject("other", make_version("bucket-2", "a"))))
        state.commit(state.apply_batch(entries))
        for _ in range(300):
            prefix = "".join(rng.choices(pieces, k=rng.randint(0, 2)))
            delimiter = rng.choice(["", "/", "-", "é"])
            start_after = "".join(rng.choices(pieces, k=rng.randint(0, 3)))
            max_keys = rng.choice([0, 1, 3, 50, 5000])
            page = state.list_objects("bucket", prefix, delimiter, start_after, max_keys)
            expected = naive(object_keys, prefix, delimiter, start_after, min(max_keys, 1000))
            got = (
                [v.key for v in page.objects],
                list(page.common_prefixes),
                page.is_truncated,
                page.next_start_after,
            )
            assert got == expected, (prefix, delimiter, start_after, max_keys)
            assert all(v.bucket == "bucket" for v in page.objects)
    finally:
        db.close()
