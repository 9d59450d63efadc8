"""Reading a console form post within the body limits: URL-encoded (login) or multipart (explain)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from urllib.parse import parse_qs

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from cds_service.errors import (
    BodyTimeout,
    ClientDisconnected,
    HookRequestInvalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from cds_service.web.body import BodyLimits

MAX_FIELDS = 8


async def read_form(request: Request, limits: BodyLimits) -> dict[str, str | bytes]:
    """The form's fields (a file field as bytes); the first value of a repeated field wins."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise UnsupportedMediaType("A console form is URL-encoded or multipart/form-data")
    body = await _bounded_body(request, limits)
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise HookRequestInvalid("The form could not be read") from exc
        return {name: values[0] for name, values in fields.items()}
    return await _multipart(request, body, limits)


async def _multipart(request: Request, body: bytes, limits: BodyLimits) -> dict[str, str | bytes]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers,
        stream(),
        max_files=1,
        max_fields=MAX_FIELDS,
        max_part_size=limits.max_bytes,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HookRequestInvalid(f"The form could not be read: {exc.message}") from exc
    fields: dict[str, str | bytes] = {}
    for name, value in form.multi_items():
        if name in fields:
            continue
        fields[name] = await value.read() if isinstance(value, UploadFile) else value
    await form.close()
    return fields


async def _bounded_body(request: Request, limits: BodyLimits) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise PayloadTooLarge(f"Request body larger than {limits.max_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limits.max_bytes:
                    raise PayloadTooLarge(f"Request body larger than {limits.max_bytes} bytes")
    except TimeoutError:
        raise BodyTimeout(
            f"Request body not received within {limits.timeout_seconds:g} s"
        ) from None
    except ClientDisconnect:
        raise ClientDisconnected("The client disconnected before sending the whole body") from None
    return bytes(body)
