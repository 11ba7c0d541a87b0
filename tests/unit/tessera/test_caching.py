"""The Cache-Control of object reads (tessera/caching.py)."""

from __future__ import annotations

import pytest

from tessera import errors
from tessera.caching import (
    IMMUTABLE_CACHE_CONTROL,
    CacheInputs,
    Reader,
    cache_control,
    check_cache_control,
    directives,
)


def decide(stored: str = "", default: str = "", reader: Reader = Reader.ANYONE, v: bool = False):  # type: ignore[no-untyped-def]
    return cache_control(CacheInputs(stored, default, reader, v))


def test_public_reads_use_the_object_then_the_bucket_default() -> None:
    assert decide() == ""
    assert decide(default="public, max-age=60") == "public, max-age=60"
    assert decide("max-age=5", "public, max-age=60") == "max-age=5"


def test_versioned_public_urls_are_immutable_unless_the_object_forbids_caching() -> None:
    assert decide(v=True) == IMMUTABLE_CACHE_CONTROL
    assert decide("max-age=5", v=True) == IMMUTABLE_CACHE_CONTROL
    assert "immutable" in directives(decide(v=True))
    for forbidding in ("no-store", "no-cache", "private, max-age=9"):
        assert decide(forbidding, v=True) == forbidding


def test_presigned_reads_of_private_objects_are_private_unless_the_object_says() -> None:
    assert decide(reader=Reader.PRESIGNED) == "private"
    assert decide(default="public, max-age=60", reader=Reader.PRESIGNED) == "private"
    assert decide("public, max-age=60", reader=Reader.PRESIGNED) == "public, max-age=60"
    assert decide(reader=Reader.PRESIGNED, v=True) == "private"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("", "private"),
        ("public, max-age=60", "private, max-age=60"),
        ("s-maxage=60", "private"),
        ("max-age=60, must-revalidate", "private, max-age=60, must-revalidate"),
        ("Public, S-MaxAge=5, proxy-revalidate, no-transform", "private, no-transform"),
        ("no-store", "no-store"),
        ("private, max-age=60", "private, max-age=60"),
    ],
)
def test_header_signed_reads_of_private_objects_never_reach_a_shared_cache(
    stored: str, expected: str
) -> None:
    for versioned in (False, True):
        value = decide(stored, "public, max-age=600", Reader.SIGNED, versioned)
        assert value == expected
        assert directives(value) & {"private", "no-store"}


def test_bucket_defaults_are_checked() -> None:
    assert check_cache_control("  public, max-age=60 ") == "public, max-age=60"
    assert check_cache_control("") == ""
    assert check_cache_control('no-cache="Set-Cookie", max-age=0') == (
        'no-cache="Set-Cookie", max-age=0'
    )
    for bad in ("max-age=60\r\nX-Evil: 1", "a b", "max-age==1", ",,", "x" * 2000):
        with pytest.raises(errors.InvalidArgument):
            check_cache_control(bad)
