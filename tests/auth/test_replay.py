"""InMemoryReplayCache: remembers jtis for the token's lifetime plus skew, within a size bound."""

from __future__ import annotations

import pytest

from cds_service.auth.replay import InMemoryReplayCache, SharedReplayCache
from tests.auth.conftest import FrozenClock

pytestmark = pytest.mark.anyio


async def test_seen_when_jti_new_records_it_and_reports_second_use() -> None:
    cache = InMemoryReplayCache(10, skew_seconds=0, clock=FrozenClock(100))

    assert [await cache.seen("a", 200), await cache.seen("a", 200)] == [False, True]


async def test_seen_when_entry_past_exp_plus_skew_forgets_it() -> None:
    clock = FrozenClock(100)
    cache = InMemoryReplayCache(10, skew_seconds=30, clock=clock)
    await cache.seen("a", 200)

    clock.now = 229
    still_remembered = await cache.seen("a", 200)
    clock.now = 231
    await cache.seen("other", 300)

    assert still_remembered is True
    assert len(cache) == 1


async def test_seen_when_full_evicts_the_entry_closest_to_expiry() -> None:
    cache = InMemoryReplayCache(2, skew_seconds=0, clock=FrozenClock(100))
    await cache.seen("late", 500)
    await cache.seen("early", 200)

    await cache.seen("new", 400)

    assert len(cache) == 2
    assert await cache.seen("late", 500) is True
    assert await cache.seen("new", 400) is True


def test_init_when_max_entries_not_positive_raises() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryReplayCache(0)


async def test_shared_cache_refuses_an_id_the_store_already_holds_and_keeps_it_past_skew() -> None:
    remembered: dict[str, float] = {}

    async def remember(key: str, expires_at: float) -> bool:
        if key in remembered:
            return False
        remembered[key] = expires_at
        return True

    cache = SharedReplayCache(remember, skew_seconds=60)

    assert [await cache.seen("iss jti", 1000.0), await cache.seen("iss jti", 1000.0)] == [
        False,
        True,
    ]
    assert remembered == {"iss jti": 1060.0}
