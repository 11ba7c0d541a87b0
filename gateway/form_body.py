"""A browser form upload (multipart/form-data) read as a stream.

The fields before the file are read (each bounded in size); the file part,
which S3 requires to be the last field, becomes a BodySource without being
buffered. Its size is what the request's Content-Length leaves after the
bytes read so far and the closing delimiter, which finish() then checks is
all that follows - so the file streams into the write pipeline like any PUT.
"""

from __future__ import annotations

from email.message import Message

from aiohttp import StreamReader

from gateway.body import read_exactly
from tessera import errors

FIELD_MAX_BYTES = 64 * 1024
FIELDS_MAX = 64
HEADER_LINES_MAX = 16


def _malformed(detail: str) -> errors.TesseraError:
    return errors.MalformedPOSTRequest(
        f"The body of your POST request is not well-formed multipart/form-data: {detail}"
    )


class FormUpload:
    def __init__(self, content: StreamReader, content_length: int, boundary: str) -> None:
        self._content = content
        self._length = content_length
        self._boundary = boundary.encode("latin-1")
        self._consumed = 0
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_content_type: str | None = None
        self.size_bytes = 0

    async def _until(self, separator: bytes) -> bytes:
        try:
            data = await self._content.readuntil(separator)
        except ValueError as exc:  # aiohttp: "Chunk too big"
            raise _malformed("a field is too large") from exc
        except Exception as exc:
            raise _malformed("the body ended early") from exc
        self._consumed += len(data)
        return data[: -len(separator)]

    async def _exactly(self, n: int) -> bytes:
        data = await read_exactly(self._content, n)
        self._consumed += n
        return data

    async def read_fields(self) -> None:
        """Reads every field up to the start of the file's bytes."""
        first = await self._until(b"\r\n")
        if first.strip() != b"--" + self._boundary:
            raise _malformed("it does not start with the boundary")
        for _ in range(FIELDS_MAX):
            name, filename, content_type = await self._part_headers()
            if name == "file":
                self.filename = filename
                self.file_content_type = content_type
                closing = len(b"\r\n--" + self._boundary + b"--\r\n")
                self.size_bytes = self._length - self._consumed - closing
                if self.size_bytes < 0:
                    raise _malformed("the file part is cut short")
                return
            value = await self._until(b"\r\n--" + self._boundary)
            if len(value) > FIELD_MAX_BYTES:
                raise _malformed(f"the field {name} is too large")
            self.fields[name.lower()] = value.decode("utf-8", "replace")
            if await self._exactly(2) != b"\r\n":
                raise errors.InvalidArgument("POST requires exactly one file upload per request.")
        raise _malformed("too many fields")

    async def _part_headers(self) -> tuple[str, str | None, str | None]:
        message = Message()
        for _ in range(HEADER_LINES_MAX):
            line = await self._until(b"\r\n")
            if not line:
                break
            header, sep, value = line.decode("utf-8", "replace").partition(":")
            if not sep:
                raise _malformed("a part header has no colon")
            message[header.strip()] = value.strip()
        else:
            raise _malformed("a part has too many headers")
        disposition = message.get("Content-Disposition", "")
        message_for_params = Message()
        message_for_params["Content-Disposition"] = disposition
        name = message_for_params.get_param("name", header="Content-Disposition")
        filename = message_for_params.get_param("filename", header="Content-Disposition")
        if not isinstance(name, str) or not name:
            raise _malformed("a part has no name")
        return name, filename if isinstance(filename, str) else None, message.get("Content-Type")

    async def read_exactly(self, n: int) -> bytes:
        return await self._exactly(n)

    async def finish(self) -> dict[str, str]:
        tail = b"\r\n--" + self._boundary + b"--\r\n"
        rest = await self._exactly(self._length - self._consumed)
        if rest != tail:
            raise _malformed("the file is not the last part, or the closing boundary is wrong")
        return {}
