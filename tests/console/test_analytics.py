"""Override analytics computed from seeded feedback: the numbers, the reasons' text, the flag and advice."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.console import advice
from cds_service.console.advice import FlagPolicy, dominant_kind, flag_for
from cds_service.console.analytics import Analytics, build_analytics
from cds_service.store.analytics import ReasonCount
from cds_service.store.opening import open_store
from tests.console.conftest import versions
from tests.console.seed import EXPECTED, WEEKS, seed_url
from tests.pipeline import compiled


def _analytics(tmp_path: Path, policy: FlagPolicy | None = None) -> Analytics:
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    seed_url(url, versions())

    async def read() -> Analytics:
        store = await open_store(url)
        try:
            outcomes = await store.rule_outcomes()
        finally:
            await store.close()
        return build_analytics(outcomes, compiled(), policy or FlagPolicy())

    return asyncio.run(read())


def test_analytics_counts_each_rule_version_as_seeded(tmp_path: Path) -> None:
    report = _analytics(tmp_path)
    found = {
        rule.topic: {
            "shown": rule.shown,
            "accepted": rule.accepted,
            "overridden": rule.overridden,
            "with_feedback": rule.with_feedback,
        }
        for rule in report.rules
    }
    assert found == EXPECTED
    bzd = next(rule for rule in report.rules if rule.topic == "BZD")
    assert bzd.rule_version == compiled().rule_version("BZD")
    assert bzd.loaded
    assert bzd.override_rate == pytest.approx(57 / 60)


def test_analytics_gives_the_weekly_override_rates(tmp_path: Path) -> None:
    report = _analytics(tmp_path)
    assert report.weeks == WEEKS
    trend = {series["label"]: series["rates"] for series in report.chart_data()["trend"]}
    bzd, ltg = (f"{t} v{compiled().rule_version(t)}" for t in ("BZD", "LTG"))
    assert trend == {bzd: [90.0, 95.0, 100.0], ltg: [None, 50.0, 50.0]}


def test_analytics_names_reasons_by_hl7_display_and_our_wording(tmp_path: Path) -> None:
    bzd = next(rule for rule in _analytics(tmp_path).rules if rule.topic == "BZD")
    reasons = [(r.code, r.display, r.offered_as, r.cards) for r in bzd.reasons]
    assert reasons == [
        (
            "cds-not-applicable",
            "PC CDS does not apply to patient",
            "Patient is not taking this medication",
            30,
        ),
        (
            "risk-benefit-ratio",
            "Recipient assessment of risk/benefit ratio",
            "Benefit outweighs the risk for this patient",
            20,
        ),
        (None, "No reason given", None, 7),
    ]
    assert sum(r.share for r in bzd.reasons) == pytest.approx(1.0)


def test_analytics_shows_our_own_reason_codes_with_the_card_wording(tmp_path: Path) -> None:
    ltg = next(rule for rule in _analytics(tmp_path).rules if rule.topic == "LTG")
    assert [(r.code, r.display, r.offered_as) for r in ltg.reasons] == [
        ("dose-not-due", "No dose due within the hold window", None)
    ]


def test_analytics_flags_the_rule_overridden_above_the_threshold_with_advice(
    tmp_path: Path,
) -> None:
    report = _analytics(tmp_path)
    (flagged,) = report.flagged
    assert flagged.topic == "BZD"
    assert flagged.flag is not None
    assert flagged.flag.kind == advice.SCOPE  # 30 "not applicable" against 27 judgement calls
    assert flagged.flag.advice.startswith("Tighten the members")
    assert flagged.flag.override_rate == pytest.approx(0.95)
    assert flagged.flag.cards == 60


def test_analytics_flags_nothing_below_the_minimum_of_cards(tmp_path: Path) -> None:
    assert _analytics(tmp_path, FlagPolicy(override_rate=0.9, min_cards=61)).flagged == ()
    loose = _analytics(tmp_path / "loose", FlagPolicy(override_rate=0.5, min_cards=10))
    assert [rule.topic for rule in loose.flagged] == ["BZD", "LTG"]


def test_analytics_page_shows_the_seeded_numbers_and_the_flag(
    logged_in: TestClient, tmp_path: Path
) -> None:
    seed_url(f"sqlite:///{tmp_path / 'data' / 'cds.db'}", versions())
    html = logged_in.get("/console/analytics").text
    bzd = f"BZD v{compiled().rule_version('BZD')}"
    row = re.search(rf'<tr data-rule="{bzd}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[2:7] == ["64", "3", "57", "60", "95.0 %"]
    flag = re.search(r'<article class="flag" data-topic="BZD".*?</article>', html, re.S)
    assert flag is not None
    assert "Tighten the members" in flag.group(0)
    assert "57 of 60 cards with feedback overridden" in flag.group(0)
    assert "PC CDS does not apply to patient (30 cards" in flag.group(0)
    assert 'id="trend-chart"' in html
    assert f'data-reasons="{bzd}"' in html


def test_analytics_page_with_no_feedback_says_so(logged_in: TestClient) -> None:
    assert "No cards or feedback recorded yet" in logged_in.get("/console/analytics").text


def _reasons(*pairs: tuple[str | None, int]) -> list[ReasonCount]:
    return [ReasonCount("X", 1, None, code, cards) for code, cards in pairs]


def test_advice_follows_the_kind_of_reason_most_given() -> None:
    assert dominant_kind(_reasons(("action-completed", 5), ("risk-benefit-ratio", 4))) == "hold"
    assert dominant_kind(_reasons(("expert-contradicts", 3), (None, 2))) == "evidence"
    assert dominant_kind(_reasons(("cds-not-applicable", 2), (None, 2))) == "judgement"  # tie
    assert dominant_kind([]) == "judgement"


def test_advice_for_a_card_already_at_info_is_to_retire_it() -> None:
    policy = FlagPolicy(override_rate=0.9, min_cards=10)
    reasons = _reasons(("risk-benefit-ratio", 10))
    warning = flag_for(10, 10, "warning", reasons, policy)
    info = flag_for(10, 10, "info", reasons, policy)
    assert warning is not None
    assert warning.advice.startswith("Demote to info")
    assert info is not None
    assert info.advice.startswith("Retire it")
    assert flag_for(8, 10, "warning", reasons, policy) is None
