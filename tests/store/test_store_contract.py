"""One contract for every store, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cds_service.cdshooks.models import FeedbackItem
from cds_service.errors import FeedbackInvalid
from cds_service.store.analytics import RuleOutcomes, ShadowReport
from cds_service.store.opening import is_postgres, open_store
from cds_service.store.records import AuditedCard, AuditStore, EvaluationRecord
from tests.console.seed import EXPECTED, SHADOW_FIRINGS, WEEKS, seed

T = TypeVar("T")
PATIENT_NAME = "Jane Q Contractpatient"
VERSIONS = {"BZD": 3, "LTG": 2}  # rule versions the seeded cards were shown under


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cds.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def run(url: str, work: Callable[[AuditStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await open_store(url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def record(hook_instance: str, *topics: str) -> EvaluationRecord:
    return EvaluationRecord(
        hook_instance=hook_instance,
        service_id="svc",
        hook="order-sign",
        evaluated_at=datetime(2026, 11, 27, tzinfo=UTC),
        outcome="cards" if topics else "no-ketamine-order",
        kb_version="1.0.0",
        kb_digest="abc",
        cards=tuple(
            AuditedCard(uuid=f"{hook_instance}-{t}", topic=t, indicator="warning", rule_version=1)
            for t in topics
        ),
        duration_ms=1.5,
    )


def item(card: str, outcome: str = "overridden", when: str = "2026-11-27T10:00:00Z", **extra: Any):
    body: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": when, **extra}
    if outcome == "accepted" and "acceptedSuggestions" not in extra:
        body["acceptedSuggestions"] = [{"id": "s1"}]
    return FeedbackItem.model_validate(body)


def stored_text(url: str, tmp: Path) -> str:
    """Everything the feedback table holds, as text."""
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT row_to_json(f)::text FROM feedback f").fetchall()
        return "\n".join(str(row[0]) for row in rows)
    return b"".join(p.read_bytes() for p in tmp.iterdir() if p.is_file()).decode("latin-1")


def test_store_opened_twice_applies_each_migration_once(store_url: str) -> None:
    run(store_url, lambda s: s.check())
    run(store_url, lambda s: s.check())
    assert run(store_url, lambda s: s.feedback_report()) == []


def test_stores_opened_together_both_migrate_without_error(store_url: str) -> None:
    async def both() -> None:
        stores = await asyncio.gather(open_store(store_url), open_store(store_url))
        for store in stores:
            await store.check()
            await store.close()

    asyncio.run(both())


def test_store_writes_every_evaluation_before_closing(store_url: str) -> None:
    async def write(store: AuditStore) -> None:
        for n in range(25):
            await store.record_evaluation(record(f"hi-{n}", "BZD"))

    run(store_url, write)
    (row,) = run(store_url, lambda s: s.feedback_report())
    assert (row.topic, row.cards_shown) == ("BZD", 25)


def test_feedback_posted_twice_or_to_two_stores_counts_once(store_url: str) -> None:
    items = [item("c1-BZD", reason="x"), item("c1-BZD", "accepted")]

    async def post_twice(store: AuditStore) -> list[int]:
        await store.record_evaluation(record("c1", "BZD"))
        first = await store.record_feedback("svc", items)
        other = await open_store(store_url)  # a second replica on the same database
        try:
            return [first, await other.record_feedback("svc", items)]
        finally:
            await other.close()

    assert run(store_url, post_twice) == [2, 0]
    (row,) = run(store_url, lambda s: s.feedback_report())
    # One card, accepted and dismissed: counted once, as accepted, and said to be both.
    assert (row.topic, row.accepted, row.overridden) == ("BZD", 1, 0)
    assert row.accepted_and_overridden == 1


def test_feedback_keeps_reason_code_and_system_but_no_display_or_comment(
    store_url: str, tmp_path: Path
) -> None:
    reason = {"code": "benefit", "system": "http://example.org/r", "display": PATIENT_NAME}
    feedback = item("c2", overrideReason={"reason": reason, "userComment": PATIENT_NAME})
    run(store_url, lambda s: s.record_feedback("svc", [feedback]))
    (row,) = run(store_url, lambda s: s.feedback_report())
    assert row.override_reasons == (("benefit", 1),)
    text = stored_text(store_url, tmp_path)
    assert "http://example.org/r" in text
    assert PATIENT_NAME not in text


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_feedback_at_an_instant_outside_utc_years_is_refused_as_invalid(
    store_url: str, when: str
) -> None:
    with pytest.raises(FeedbackInvalid) as refused:
        run(store_url, lambda s: s.record_feedback("svc", [item("c3", when=when)]))
    assert refused.value.field == "feedback[0].outcomeTimestamp"


def test_feedback_at_the_extreme_utc_instants_is_stored(store_url: str) -> None:
    items = [item("c4", when="0001-01-01T00:00:00Z"), item("c4", when="9999-12-31T23:59:59Z")]
    assert run(store_url, lambda s: s.record_feedback("svc", items)) == 2
    assert run(store_url, lambda s: s.record_feedback("svc", items)) == 0


def test_card_topics_names_the_topic_of_each_known_card(store_url: str) -> None:
    async def topics(store: AuditStore) -> dict[str, str]:
        await store.record_evaluation(record("c5", "BZD", "LTG"))
        await store.flush()
        return await store.card_topics(["c5-BZD", "c5-LTG", "unknown"])

    assert run(store_url, topics) == {"c5-BZD": "BZD", "c5-LTG": "LTG"}


def test_token_remembered_once_is_refused_by_every_store_on_the_database(store_url: str) -> None:
    expires = time.time() + 300

    async def remember(store: AuditStore) -> list[bool]:
        other = await open_store(store_url)
        try:
            return [
                await store.remember_token("iss jti-1", expires),
                await store.remember_token("iss jti-1", expires),
                await other.remember_token("iss jti-1", expires),
                await other.remember_token("iss jti-2", expires),
            ]
        finally:
            await other.close()

    assert run(store_url, remember) == [True, False, False, True]


def test_expired_token_ids_are_purged(store_url: str) -> None:
    run(store_url, lambda s: s.remember_token("iss old", time.time() - 10))
    # A new store purges on its first insert; the expired id is gone, so it counts as new again.
    assert run(store_url, lambda s: s.remember_token("iss other", time.time() + 60)) is True
    assert run(store_url, lambda s: s.remember_token("iss old", time.time() + 60)) is True


def test_rule_outcomes_count_per_rule_version_and_week(store_url: str) -> None:
    async def outcomes_of(store: AuditStore) -> RuleOutcomes:
        await seed(store, VERSIONS)
        return await store.rule_outcomes()

    outcomes = run(store_url, outcomes_of)
    totals: dict[str, dict[str, int]] = {}
    for week in outcomes.weeks:
        assert week.rule_version == VERSIONS[week.topic]
        row = totals.setdefault(week.topic, {"shown": 0, "accepted": 0, "overridden": 0})
        row["shown"] += week.shown
        row["accepted"] += week.accepted
        row["overridden"] += week.overridden
    assert totals == {
        topic: {key: value for key, value in counts.items() if key != "with_feedback"}
        for topic, counts in EXPECTED.items()
    }
    bzd_weeks = [(w.week, w.accepted, w.overridden) for w in outcomes.weeks if w.topic == "BZD"]
    assert bzd_weeks == [(WEEKS[0], 2, 18), (WEEKS[1], 1, 19), (WEEKS[2], 0, 20)]
    bzd_reasons = [(r.code, r.cards) for r in outcomes.reasons if r.topic == "BZD"]
    assert bzd_reasons == [("cds-not-applicable", 30), ("risk-benefit-ratio", 20), (None, 7)]


def test_shadow_report_counts_firings_and_classes_of_record(store_url: str) -> None:
    async def report(store: AuditStore) -> ShadowReport:
        await seed(store, VERSIONS, shadow=True)
        return await store.shadow_report()

    shadow = run(store_url, report)
    assert shadow.evaluated == 64 + 20 + SHADOW_FIRINGS
    (ltg,) = shadow.shadow
    assert (ltg.topic, ltg.rule_version, ltg.would_fire) == ("LTG", 2, SHADOW_FIRINGS)
    assert ltg.record_classes == (
        ("lamotrigine · MedicationRequest · current · scheduled", 7),
        ("lamotrigine · MedicationStatement · current · scheduled", 3),
    )
    assert shadow.active == (("BZD", 3, 64), ("LTG", 2, 20))


def test_analytics_of_an_empty_store_are_empty(store_url: str) -> None:
    outcomes = run(store_url, lambda s: s.rule_outcomes())
    assert (outcomes.weeks, outcomes.reasons) == ((), ())
    shadow = run(store_url, lambda s: s.shadow_report())
    assert (shadow.evaluated, shadow.shadow, shadow.active) == (0, (), ())


def test_announcements_are_remembered_once_across_store_instances(store_url: str) -> None:
    expires = time.time() + 60

    async def remember(store: AuditStore) -> list[bool]:
        other = await open_store(store_url)
        try:
            return [
                await store.remember_announcement("a" * 64, expires),
                await store.remember_announcement("a" * 64, expires),
                await other.remember_announcement("a" * 64, expires),
                await other.remember_announcement("b" * 64, expires),
                # Announcements and JWT ids are apart: the same key is new in the replay cache.
                await store.remember_token("a" * 64, expires),
            ]
        finally:
            await other.close()

    assert run(store_url, remember) == [True, False, False, True, True]


def test_expired_announcements_are_purged(store_url: str) -> None:
    run(store_url, lambda s: s.remember_announcement("c" * 64, time.time() - 10))
    assert run(store_url, lambda s: s.remember_announcement("d" * 64, time.time() + 60)) is True
    assert run(store_url, lambda s: s.remember_announcement("c" * 64, time.time() + 60)) is True
