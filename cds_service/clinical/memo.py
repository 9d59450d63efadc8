"""A bounded memo for a pure function of one parsed JSON value (a CodeableConcept), keyed by its bytes.

A clinic's medication lists repeat the same few hundred products, so work that depends only on the
product (which ingredients it names) is done once per distinct concept. The key is the value's JSON
encoding: two concepts share an answer only when they are the same JSON. In process memory only, never
logged or persisted; cleared whole when full (cheaper than LRU bookkeeping per call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

import orjson

T = TypeVar("T")
MEMO_SIZE = 20_000
_MISSING: Any = object()


class JsonMemo(Generic[T]):
    """``compute(value)``, remembered per distinct JSON value; at most ``size`` entries."""

    __slots__ = ("_compute", "_memo", "_size")

    def __init__(self, compute: Callable[[Any], T], size: int = MEMO_SIZE) -> None:
        self._compute = compute
        self._memo: dict[bytes, T] = {}
        self._size = size

    def __call__(self, value: Any) -> T:
        try:
            key = orjson.dumps(value)
        except TypeError:  # not JSON (never so from a parsed body): computed, not remembered
            return self._compute(value)
        memo = self._memo
        found = memo.get(key, _MISSING)
        if found is not _MISSING:
            return cast(T, found)
        result = self._compute(value)
        if len(memo) >= self._size:
            memo.clear()
        memo[key] = result
        return result

    def __len__(self) -> int:
        return len(self._memo)
