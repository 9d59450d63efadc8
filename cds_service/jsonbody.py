"""Reading a request body as JSON within limits: size, nesting depth and list lengths."""

from __future__ import annotations

import json
from typing import Any

from cds_service.errors import HookRequestInvalid, PayloadTooLarge


def parse_json(body: bytes, *, max_depth: int, max_list_items: int) -> Any:
    """Parse ``body``; malformed JSON, too deep a nesting or too long a list raise a 4xx error."""
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise PayloadTooLarge(f"JSON nesting deeper than {max_depth} levels") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise HookRequestInvalid(f"Malformed JSON: {_short(exc)}") from exc
    check_shape(data, max_depth=max_depth, max_list_items=max_list_items)
    return data


def check_shape(data: Any, *, max_depth: int, max_list_items: int) -> None:
    """Walk the parsed document once (iteratively) and enforce the nesting and list-length limits."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise PayloadTooLarge(f"JSON nesting deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend(
                (value, depth + 1) for value in node.values() if isinstance(value, dict | list)
            )
        elif isinstance(node, list):
            if len(node) > max_list_items:
                raise PayloadTooLarge(f"a JSON array has more than {max_list_items} items")
            stack.extend((value, depth + 1) for value in node if isinstance(value, dict | list))


def _short(exc: Exception) -> str:
    # json's messages carry a position, never the content itself.
    return str(exc).splitlines()[0][:200]
