"""Sealed access-key secrets open only under the same cluster secret and key id."""

from __future__ import annotations

from tessera.sealing import Sealer


def test_round_trip_and_binding() -> None:
    sealer = Sealer("cluster-secret")
    sealed = sealer.seal("TKAAAA", "the secret")
    assert b"the secret" not in sealed
    assert sealer.open("TKAAAA", sealed) == "the secret"
    assert sealer.open("TKBBBB", sealed) is None  # moved onto another key id
    assert Sealer("another-secret").open("TKAAAA", sealed) is None
    assert sealer.open("TKAAAA", sealed[:-1] + bytes([sealed[-1] ^ 1])) is None
    assert sealer.open("TKAAAA", b"short") is None
    assert sealer.seal("TKAAAA", "the secret") != sealed  # a fresh nonce each time
