"""Key layout: object keys sort in S3 order and bucket namespaces never overlap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metadata import keys

bucket_names = st.text(alphabet="abc.-0", min_size=1, max_size=6)
object_keys = st.text(min_size=1, max_size=8).filter(
    lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
)


@given(bucket_names, object_keys, object_keys)
def test_object_keys_sort_in_utf8_order(bucket: str, a: str, b: str) -> None:
    assert (keys.object_key(bucket, a) < keys.object_key(bucket, b)) == (a.encode() < b.encode())


@given(bucket_names, bucket_names, object_keys)
def test_namespaces_do_not_overlap(one: str, other: str, key: str) -> None:
    if one != other:
        assert not keys.object_key(other, key).startswith(keys.object_namespace(one))


@given(st.binary(max_size=6), st.binary(max_size=4))
def test_prefix_end_bounds_every_extension(prefix: bytes, suffix: bytes) -> None:
    end = keys.prefix_end(prefix)
    if end is None:
        assert prefix.strip(b"\xff") == b""
    else:
        assert prefix + suffix < end
        assert not end.startswith(prefix)


def test_request_index_orders_by_position() -> None:
    assert keys.request_index_key(255, "zz") < keys.request_index_key(256, "aa")
    assert keys.request_index_key(9, "x") < keys.request_index_bound(10)
    assert keys.request_id_from_index(keys.request_index_key(7, "abc")) == "abc"


def test_every_key_prefix_is_distinct() -> None:
    from metadata import keys

    prefixes = [v for n, v in vars(keys).items() if n.isupper() and isinstance(v, bytes)]
    short = [p for p in prefixes if p.endswith(b"/")]
    assert len(short) == len(set(short)), short
