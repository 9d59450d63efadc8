"""Reading a request body as JSON within limits: content type, size, nesting depth and list lengths."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from cds_service.errors import (
    BodyTimeout,
    ClientDisconnected,
    HookRequestInvalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The body limits of every route that reads JSON (``CDS_MAX_*`` settings)."""

    max_bytes: int = 5_000_000
    max_depth: int = 64
    max_list_items: int = 5_000
    timeout_seconds: float = 10.0  # the whole body, however it is trickled


async def read_json(request: Request, limits: BodyLimits) -> Any:
    """The body as JSON, refusing non-JSON content types and bodies over the size limit."""
    # Media types are case-insensitive (RFC 9110 section 8.3.1): APPLICATION/JSON is JSON.
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    content_type = content_type.lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not '{content_type[:80]}'"
        )
    limit = limits.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            body = await _read_body(request, limit)
    except TimeoutError:
        raise BodyTimeout(
            f"Request body not received within {limits.timeout_seconds:g} s"
        ) from None
    except ClientDisconnect:
        raise ClientDisconnected("The client disconnected before sending the whole body") from None
    return parse_json(body, limits)


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    return bytes(body)


def parse_json(body: bytes, limits: BodyLimits) -> Any:
    """Parse ``body``; malformed JSON, too deep a nesting or too long a list raise a 4xx error.

    Everything the service may echo or walk generically (the context with its draft orders, and any
    other top-level member) is checked in full. Prefetch resources are only ever read at fixed paths,
    so there only the bundles' entry counts are checked: walking every node of a large medication
    history cost more than parsing it, and orjson's own depth limit (1024) still bounds it.
    """
    max_depth, max_items = limits.max_depth, limits.max_list_items
    try:
        # orjson: strict RFC 8259 (no NaN), and the largest single cost of a call with stdlib json.
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise PayloadTooLarge(f"JSON nesting deeper than {max_depth} levels") from exc
        raise HookRequestInvalid(f"Malformed JSON: {_short(exc)}") from exc
    if isinstance(data, dict) and isinstance(data.get("prefetch"), dict):
        prefetch = data["prefetch"]
        rest = {key: value for key, value in data.items() if key != "prefetch"}
        check_shape(rest, max_depth=max_depth, max_list_items=max_items)
        _check_prefetch_entries(prefetch, max_items)
    else:
        check_shape(data, max_depth=max_depth, max_list_items=max_items)
    return data


def _check_prefetch_entries(prefetch: dict[str, Any], max_items: int) -> None:
    if len(prefetch) > max_items:
        raise PayloadTooLarge(f"a JSON object has more than {max_items} members")
    for value in prefetch.values():
        entries = value.get("entry") if isinstance(value, dict) else None
        if isinstance(entries, list) and len(entries) > max_items:
            raise PayloadTooLarge(f"a JSON array has more than {max_items} items")


def check_shape(data: Any, *, max_depth: int, max_list_items: int) -> None:
    """Walk the parsed document once and enforce the nesting and list-length limits."""
    if isinstance(data, dict | list):
        _walk(data, 1, max_depth, max_list_items)


def _walk(node: dict[str, Any] | list[Any], depth: int, max_depth: int, max_items: int) -> None:
    # Recursion stops at max_depth, far below Python's own limit. This walk visits every container of
    # the body, so it is written for speed: a third of the cost of a stack of (node, depth) tuples.
    if depth > max_depth:
        raise PayloadTooLarge(f"JSON nesting deeper than {max_depth} levels")
    if isinstance(node, dict):
        children: Any = node.values()
    elif len(node) > max_items:
        raise PayloadTooLarge(f"a JSON array has more than {max_items} items")
    else:
        children = node
    for child in children:
        if type(child) is dict or type(child) is list:  # orjson.loads makes exactly these types
            _walk(child, depth + 1, max_depth, max_items)


def _short(exc: Exception) -> str:
    # orjson's messages carry a position, never the content itself.
    return str(exc).splitlines()[0][:200]
