"""service/grpc_tuning.py: the switch to gRPC's POSIX client endpoints is set
only before grpc is imported and never over the operator's own choice; a
role process started through the CLI really connects through them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.grpc_tuning import EXPERIMENTS_ENV, POSIX_CLIENT, SWITCH_ENV, prefer_posix_client

ROOT = Path(__file__).resolve().parents[3]


def test_sets_the_experiment_when_grpc_is_not_yet_imported() -> None:
    env: dict[str, str] = {}
    assert prefer_posix_client(env, modules=())
    assert env == {EXPERIMENTS_ENV: POSIX_CLIENT}


def test_leaves_the_operators_choice_and_the_off_switch() -> None:
    own = {EXPERIMENTS_ENV: "-event_engine_listener"}
    assert not prefer_posix_client(own, modules=())
    assert own == {EXPERIMENTS_ENV: "-event_engine_listener"}
    off = {SWITCH_ENV: "0"}
    assert not prefer_posix_client(off, modules=())
    assert EXPERIMENTS_ENV not in off


def test_does_nothing_once_grpc_is_imported() -> None:
    env: dict[str, str] = {}
    assert not prefer_posix_client(env, modules=("grpc",))
    assert env == {}


def test_the_cli_connects_through_the_posix_client_endpoints() -> None:
    """The real effect, seen in gRPC's own trace: cli.main's entry turns the
    experiment off before it loads grpc (its parser imports the admin
    client), so a channel connects with the POSIX TCP client
    (tcp_client_posix), not the EventEngine one."""
    script = (
        "import asyncio, sys, cli.main as m\n"
        "assert 'grpc' not in sys.modules\n"
        "try:\n"
        "    m.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'grpc' in sys.modules\n"
        "import grpc.aio\n"
        "async def go():\n"
        "    ch = grpc.aio.insecure_channel('127.0.0.1:1')\n"
        "    try:\n"
        "        await asyncio.wait_for(ch.channel_ready(), 0.5)\n"
        "    except Exception:\n"
        "        pass\n"
        "    await ch.close()\n"
        "asyncio.run(go())\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in (EXPERIMENTS_ENV, SWITCH_ENV)}
    base.update(GRPC_VERBOSITY="debug", GRPC_TRACE="tcp")

    def trace(env: dict[str, str]) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    assert "tcp_client_posix" in trace(base)
    assert "tcp_client_posix" not in trace({**base, SWITCH_ENV: "0"})
