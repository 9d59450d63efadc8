"""A raw HTTP/1.1 server on 127.0.0.1 inside the test's event loop: canned, hanging or endless answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

Answer = Callable[[str, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Loopback:
    """A running server: its base URL and the request heads it received."""

    port: int
    heads: list[str] = field(default_factory=list)
    open_connections: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"


@asynccontextmanager
async def loopback(answer: Answer) -> AsyncIterator[Loopback]:
    """Serve ``answer(request_head, writer)`` for every request on every connection."""
    state = Loopback(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.open_connections += 1
        try:
            while head := (await reader.readuntil(b"\r\n\r\n")).decode("latin-1"):
                state.heads.append(head)
                await answer(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            state.open_connections -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


def fhir_json(body: dict[str, Any], *, extra: str = "") -> Answer:
    """Always answer 200 with ``body`` as FHIR JSON."""
    payload = json.dumps(body).encode()

    async def answer(_head: str, writer: asyncio.StreamWriter) -> None:
        writer.write(_head_bytes(len(payload), extra) + payload)
        await writer.drain()

    return answer


async def hang(_head: str, _writer: asyncio.StreamWriter) -> None:
    """Never answer (until the test ends)."""
    await asyncio.sleep(3600)


def encoded(content: bytes, encoding: str) -> Answer:
    """Answer 200 with ``content`` as sent, under ``Content-Encoding: encoding``."""

    async def answer(_head: str, writer: asyncio.StreamWriter) -> None:
        writer.write(_head_bytes(len(content), f"Content-Encoding: {encoding}\r\n") + content)
        await writer.drain()

    return answer


def endless(sent: list[int], chunk: bytes = b" " * 65_536) -> Answer:
    """A chunked answer that opens a Bundle and never ends; ``sent`` counts the bytes written."""

    async def answer(_head: str, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        opening = b'{"resourceType":"Bundle","entry":['
        writer.write(b"%x\r\n%s\r\n" % (len(opening), opening))
        sent.append(0)
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent[-1] += len(chunk)
            await writer.drain()

    return answer


def _head_bytes(length: int, extra: str) -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()
