"""A malformed storage-class setting stops the gateway before it serves,
with exit status 2 and the reason logged."""

from __future__ import annotations

import pytest

from gateway import main as gateway_main
from tessera.config import GatewaySettings


def test_bad_storage_classes_setting_exits_2(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_main, "setup_logging", lambda level, role: None)  # leave pytest's
    settings = GatewaySettings(storage_classes="STANDARD=4+2,COLD=3-1")
    with pytest.raises(SystemExit) as stopped:
        gateway_main.main(settings)
    assert stopped.value.code == 2
    assert "COLD" in caplog.text
