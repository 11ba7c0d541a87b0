"""service/grpc_tuning.py: the switch to gRPC's POSIX client and server
endpoints is set only before grpc is imported and never over the operator's
own choice; a process started through the CLI really connects and listens
through them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.grpc_tuning import EXPERIMENTS_ENV, POSIX_ENDPOINTS, SWITCH_ENV, prefer_posix_endpoints

ROOT = Path(__file__).resolve().parents[3]


def test_sets_the_experiment_when_grpc_is_not_yet_imported() -> None:
    env: dict[str, str] = {}
    assert prefer_posix_endpoints(env, modules=())
    assert env == {EXPERIMENTS_ENV: POSIX_ENDPOINTS}


def test_leaves_the_operators_choice_and_the_off_switch() -> None:
    own = {EXPERIMENTS_ENV: "-event_engine_listener"}
    assert not prefer_posix_endpoints(own, modules=())
    assert own == {EXPERIMENTS_ENV: "-event_engine_listener"}
    off = {SWITCH_ENV: "0"}
    assert not prefer_posix_endpoints(off, modules=())
    assert EXPERIMENTS_ENV not in off


def test_does_nothing_once_grpc_is_imported() -> None:
    env: dict[str, str] = {}
    assert not prefer_posix_endpoints(env, modules=("grpc",))
    assert env == {}


def test_the_cli_connects_and_listens_through_the_posix_endpoints() -> None:
    """The real effect, seen in gRPC's own trace: cli.main's entry turns the
    experiments off before it loads grpc (its parser imports the admin
    client), so a channel connects with the POSIX TCP client
    (tcp_client_posix) and a server accepts with the POSIX TCP server
    (tcp_server_posix), not the EventEngine ones."""
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
        "    server = grpc.aio.server()\n"
        "    port = server.add_insecure_port('127.0.0.1:0')\n"
        "    await server.start()\n"
        "    ch = grpc.aio.insecure_channel(f'127.0.0.1:{port}')\n"
        "    await asyncio.wait_for(ch.channel_ready(), 10)\n"
        "    await ch.close()\n"
        "    await server.stop(None)\n"
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

    tuned = trace(base)
    assert "tcp_client_posix" in tuned
    assert "tcp_server_posix" in tuned
    default = trace({**base, SWITCH_ENV: "0"})
    assert "tcp_client_posix" not in default
    assert "tcp_server_posix" not in default
