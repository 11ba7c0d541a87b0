"""The metadata process body: serve() until stop, then a clean close; state survives."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from metadata.client import MetadataClient
from metadata.main import serve
from tessera import errors
from tessera.config import MetadataSettings

SECRET = "s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


@pytest.mark.usefixtures("loop_watchdog")
async def test_serve_stops_cleanly_and_the_state_survives(tmp_path: Path) -> None:
    settings = MetadataSettings(
        data_dir=str(tmp_path / "metadata"),
        listen=f"127.0.0.1:{free_port()}",
        http_listen=f"127.0.0.1:{free_port()}",
        cluster_secret=SECRET,
    )
    for run in range(2):
        stop = asyncio.Event()
        server = asyncio.create_task(serve(settings, stop))
        await wait_ready(f"http://{settings.http_listen}/readyz")
        async with MetadataClient(settings.listen, SECRET) as client:
            if run == 0:
                await client.create_bucket("kept", "alice", timeout=5.0)
            else:
                assert (await client.get_bucket("kept", timeout=5.0)).owner == "alice"
                with pytest.raises(errors.BucketAlreadyOwnedByYou):
                    await client.create_bucket("kept", "alice", timeout=5.0)
        stop.set()
        await asyncio.wait_for(server, timeout=30)
