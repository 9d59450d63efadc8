"""Failed console logins per client address: a few per window, then 429, in bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_ADDRESSES = 10_000


class LoginLimiter:
    """Counts failures per address in a fixed window; the oldest addresses are forgotten first.

    Per process: with several workers each keeps its own counts (a guess of a 32-character token
    is hopeless either way; the limit stops a script from hammering the login).
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_seconds: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._capacity = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        count, started = self._failures.get(address, (0, 0.0))
        left = started + self._window - self._clock()
        if count < self._max or left <= 0:
            return None
        return max(int(left) + 1, 1)

    def failed(self, address: str) -> None:
        """Record one failure of ``address``."""
        now = self._clock()
        count, started = self._failures.pop(address, (0, now))
        if now - started >= self._window:
            count, started = 0, now
        self._failures[address] = (count + 1, started)
        while len(self._failures) > self._capacity:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)
