"""JWT replay protection: the ``jti`` store interface, a bounded in-process cache and a shared one."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class ReplayCache(Protocol):
    """Remembers token ids until their tokens expire; a shared store serves several instances."""

    async def seen(self, jti: str, expires_at: float) -> bool:
        """True if ``jti`` was already recorded; otherwise record it until ``expires_at``."""
        ...


class InMemoryReplayCache:
    """Per-process ``jti`` store, bounded in size, dropping entries once past ``exp`` + skew."""

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        skew_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._skew = skew_seconds
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    async def seen(self, jti: str, expires_at: float) -> bool:
        """True if ``jti`` is still remembered; otherwise remember it until ``expires_at`` + skew."""
        async with self._lock:
            self._forget_expired()
            if jti in self._expiry:
                return True
            self._make_room()
            forget_at = expires_at + self._skew
            self._expiry[jti] = forget_at
            heapq.heappush(self._queue, (forget_at, jti))
            return False

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._queue and self._queue[0][0] < now:
            self._drop_soonest()

    def _make_room(self) -> None:
        # When full of live entries, the one closest to expiry goes first: its token has the
        # least lifetime left in which to be replayed. The bound keeps memory finite under a flood.
        while len(self._expiry) >= self._max_entries:
            self._drop_soonest()

    def _drop_soonest(self) -> None:
        _, jti = heapq.heappop(self._queue)
        self._expiry.pop(jti, None)


class SharedReplayCache:
    """``jti``s recorded in a store every replica shares (a unique insert with expiry, purged later).

    ``remember`` is the store's ``remember_token``: True when the key was new. A store that is down
    raises, and the authenticator then refuses the token (fail closed).
    """

    def __init__(
        self, remember: Callable[[str, float], Awaitable[bool]], *, skew_seconds: float = 60.0
    ) -> None:
        self._remember = remember
        self._skew = skew_seconds

    async def seen(self, jti: str, expires_at: float) -> bool:
        return not await self._remember(jti, expires_at + self._skew)
