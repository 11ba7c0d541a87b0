"""The key hierarchy: master key parsing, key derivation, wrapping."""

from __future__ import annotations

import base64
import os

import pytest

from tessera.sse_keys import (
    BadMasterKey,
    data_key_context,
    kms_kek,
    new_master_key_text,
    parse_master_key,
    sse_s3_kek,
    unwrap,
    wrap,
)


def test_master_key_text_forms() -> None:
    raw = os.urandom(32)
    assert parse_master_key(base64.b64encode(raw).decode() + "\n") == raw
    assert parse_master_key(raw.hex().upper()) == raw
    assert len(parse_master_key(new_master_key_text())) == 32
    for bad in ("", "not base64!", base64.b64encode(os.urandom(16)).decode(), "zz" * 32):
        with pytest.raises(BadMasterKey):
            parse_master_key(bad)


def test_derived_keys_differ_by_purpose_and_master() -> None:
    master = os.urandom(32)
    assert sse_s3_kek(master) != kms_kek(master)
    assert sse_s3_kek(master) == sse_s3_kek(master)
    assert sse_s3_kek(master) != sse_s3_kek(os.urandom(32))


def test_wrapped_keys_open_only_under_their_key_and_context() -> None:
    kek, data_key = os.urandom(32), os.urandom(32)
    context = data_key_context("aws:kms", "id-1")
    wrapped = wrap(kek, data_key, context)
    assert data_key not in wrapped
    assert unwrap(kek, wrapped, context) == data_key
    assert unwrap(os.urandom(32), wrapped, context) is None
    assert unwrap(kek, wrapped, data_key_context("aws:kms", "id-2")) is None
    assert unwrap(kek, wrapped, data_key_context("AES256")) is None
    assert unwrap(kek, wrapped[:-1], context) is None
    assert unwrap(kek, b"short", context) is None
    assert wrap(kek, data_key, context) != wrapped  # a fresh nonce every time
