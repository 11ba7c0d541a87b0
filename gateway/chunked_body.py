"""A request body in aws-chunked framing, decoded into plain object bytes.

AwsChunkedBody is a BodySource: the write pipeline reads the decoded bytes in
exact pieces and never sees framing. Signed chunks are verified as they
arrive, so a bad chunk fails the write before anything is committed; the
trailer (checksums, and its signature in the signed form) is checked at
finish(). The decoded length must equal x-amz-decoded-content-length.
"""

from __future__ import annotations

import asyncio
import hashlib

from aiohttp import StreamReader
from aiohttp.client_exceptions import ClientPayloadError

from gateway.auth.chunk_signing import (
    CHUNK_HEADER_MAX_BYTES,
    TRAILER_SIGNATURE,
    ChunkSigner,
    parse_chunk_header,
    parse_trailer_line,
)
from gateway.body import read_exactly
from tessera import errors

TRAILER_LINES_MAX = 16


class AwsChunkedBody:
    def __init__(
        self,
        content: StreamReader,
        size_bytes: int,
        *,
        signer: ChunkSigner | None,
        expect_trailer: bool,
    ) -> None:
        self._content = content
        self.size_bytes = size_bytes
        self._signer = signer
        self._expect_trailer = expect_trailer
        self._pending = bytearray()  # decoded bytes not yet handed out
        self._decoded_bytes = 0
        self._ended = False  # the zero-length chunk was seen

    async def _line(self) -> bytes:
        try:
            line = await self._content.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            raise errors.IncompleteBody() from exc
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise errors.IncompleteBody("An aws-chunked header line is too long.") from exc
        except (ClientPayloadError, ConnectionResetError) as exc:
            raise errors.IncompleteBody() from exc
        if len(line) > CHUNK_HEADER_MAX_BYTES:
            raise errors.IncompleteBody("An aws-chunked header line is too long.")
        return line[:-2]

    async def _exactly(self, n: int) -> bytes:
        return await read_exactly(self._content, n)

    async def _next_chunk(self) -> None:
        header = parse_chunk_header(await self._line(), signed=self._signer is not None)
        data = await self._exactly(header.size_bytes) if header.size_bytes else b""
        # The last (empty) chunk is followed directly by the trailer lines
        # when there is a trailer, by an empty line when there is not.
        if (header.size_bytes or not self._expect_trailer) and await self._exactly(2) != b"\r\n":
            raise errors.IncompleteBody("An aws-chunked chunk is not followed by CRLF.")
        if self._signer is not None:
            assert header.signature is not None
            self._signer.verify_chunk(hashlib.sha256(data).hexdigest(), header.signature)
        if header.size_bytes == 0:
            self._ended = True
            return
        self._decoded_bytes += header.size_bytes
        if self._decoded_bytes > self.size_bytes:
            raise errors.IncompleteBody(
                "The aws-chunked body is longer than x-amz-decoded-content-length."
            )
        self._pending += data

    async def read_exactly(self, n: int) -> bytes:
        while len(self._pending) < n:
            if self._ended:
                raise errors.IncompleteBody()
            await self._next_chunk()
        out = bytes(self._pending[:n])
        del self._pending[:n]
        return out

    async def finish(self) -> dict[str, str]:
        """Reads the end of the body and its trailer; returns the trailers."""
        while not self._ended:
            await self._next_chunk()
        if self._pending or self._decoded_bytes != self.size_bytes:
            raise errors.IncompleteBody()
        trailers: dict[str, str] = {}
        if not self._expect_trailer:
            return trailers
        for _ in range(TRAILER_LINES_MAX):
            line = await self._line()
            if not line:
                break
            name, value = parse_trailer_line(line)
            trailers[name] = value
        else:
            raise errors.InvalidArgument("Too many aws-chunked trailer lines.")
        if self._signer is not None:
            provided = trailers.pop(TRAILER_SIGNATURE, None)
            if provided is None:
                raise errors.SignatureDoesNotMatch("The trailer signature is missing.")
            self._signer.verify_trailer(trailers, provided)
        return trailers
