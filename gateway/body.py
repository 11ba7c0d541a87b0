"""Request bodies as a source of exactly-sized pieces.

A BodySource yields the object's bytes, whatever the wire framing (a plain
Content-Length body here; aws-chunked framing decodes into the same
interface), so the write path never sees framing. A body that ends early
raises IncompleteBody; one with bytes beyond its declared length is rejected.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import StreamReader
from aiohttp.client_exceptions import ClientPayloadError

from proto.wire import Buffer
from tessera import errors


class BodySource(Protocol):
    """The decoded object bytes of a request, read in exact pieces."""

    size_bytes: int

    async def read_exactly(self, n: int) -> bytes:
        """The next n bytes; raises IncompleteBody when the body ends sooner."""
        ...

    async def finish(self) -> dict[str, str]:
        """Checks that the body ended where it should and that its trailer (if
        any) is valid; returns the trailer fields, names in lower case."""
        ...


async def read_exactly(content: StreamReader, n: int) -> bytes:
    """n bytes of a request stream; IncompleteBody when it ends sooner."""
    try:
        return await content.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise errors.IncompleteBody() from exc
    except (ClientPayloadError, ConnectionResetError) as exc:
        raise errors.IncompleteBody() from exc


class PlainBody:
    """A body framed by Content-Length."""

    def __init__(self, content: StreamReader, size_bytes: int) -> None:
        self._content = content
        self.size_bytes = size_bytes

    async def read_exactly(self, n: int) -> bytes:
        return await read_exactly(self._content, n)

    async def finish(self) -> dict[str, str]:
        return {}


class StreamBody:
    """Object bytes from an async iterator of pieces (e.g. another object's
    read pipeline, for a server-side copy)."""

    def __init__(self, pieces: AsyncIterator[Buffer], size_bytes: int) -> None:
        self._pieces = pieces
        self.size_bytes = size_bytes
        self._pending = bytearray()

    async def read_exactly(self, n: int) -> bytes:
        while len(self._pending) < n:
            piece = await anext(self._pieces, None)
            if piece is None:
                raise errors.IncompleteBody("The copy source ended early.")
            self._pending += piece
        out = bytes(self._pending[:n])
        del self._pending[:n]
        return out

    async def finish(self) -> dict[str, str]:
        if self._pending or await anext(self._pieces, None) is not None:
            raise errors.InternalError("The copy source is longer than its record says.")
        return {}
