"""A shadow rule is evaluated and audited on every call, and never reaches the EHR, whatever the profile."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_service.app import create_app
from cds_service.rules import engine
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.loader import load_knowledge_base
from tests.conftest import SERVICE_URL, make_settings
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order, statement
from tests.rules.kb_files import copy_cards, set_status

LAMOTRIGINE = statement(
    "ms-ltg",
    "28439",
    "lamotrigine",
    dosage=[{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}],
    effectivePeriod={"start": "2026-06-01"},
)
EPIC = {"com.epic.cdshooks.request.bpa-trigger-action": "23"}


@pytest.fixture(scope="module")
def shadow_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    cards = copy_cards(tmp_path_factory.mktemp("shadow"))
    set_status(cards, "LTG", "shadow")
    return load_knowledge_base(cards)


def _topics(cards: list[dict[str, Any]]) -> set[str]:
    return {card["source"]["topic"]["code"] for card in cards if card["source"].get("topic")}


def _shadow_rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "data" / "cds.db") as db:
        return db.execute(
            "SELECT hook_instance, topic, rule_version, indicator, record_class FROM shadow_findings"
        ).fetchall()


@pytest.mark.parametrize("profile", [None, "spec", "epic", "oracle"])
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_shadow_rule_is_never_in_a_hook_response(
    tmp_path: Path, shadow_kb: KnowledgeBase, profile: str | None, hook: str
) -> None:
    settings = make_settings(tmp_path, ehr_profile=profile)
    body = hook_request(ketamine_order(), hook=hook, medications=(LAMOTRIGINE, CLONAZEPAM))
    if profile is None:
        body["extension"] = EPIC  # detected as Epic
    with TestClient(create_app(settings, kb=shadow_kb)) as client:
        response = client.post(SERVICE_URL, json=body)
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert _topics(cards) == {"BZD"}
    assert "LTG" not in response.text
    assert "amotrigine" not in response.text
    (row,) = _shadow_rows(tmp_path)
    assert row[0] == body["hookInstance"]
    assert row[1:4] == ("LTG", shadow_kb.rule("LTG").version, "info")
    assert row[4] == "lamotrigine · MedicationStatement · current · scheduled"


def test_shadow_firing_is_audited_under_an_id_that_is_no_card_uuid(
    tmp_path: Path, shadow_kb: KnowledgeBase
) -> None:
    body = hook_request(ketamine_order(), medications=(LAMOTRIGINE,))
    with TestClient(create_app(make_settings(tmp_path), kb=shadow_kb)) as client:
        assert client.post(SERVICE_URL, json=body).json()["cards"] == []
    with sqlite3.connect(tmp_path / "data" / "cds.db") as db:
        (firing,) = db.execute("SELECT firing_id FROM shadow_findings").fetchone()
        card_uuids = db.execute("SELECT COUNT(*) FROM evaluation_cards").fetchone()
        (outcome,) = db.execute("SELECT outcome FROM evaluations").fetchone()
    assert card_uuids == (0,)  # nothing was sent, so no card uuid exists
    assert outcome == "cards"
    assert len(firing) == 32


def test_a_failing_shadow_rule_is_logged_never_a_card(
    tmp_path: Path,
    shadow_kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = engine._evaluate_rule

    def broken(rule: Any, *args: Any) -> Any:
        if rule.id == "LTG":
            raise ZeroDivisionError
        return real(rule, *args)

    monkeypatch.setattr(engine, "_evaluate_rule", broken)
    body = hook_request(ketamine_order(), medications=(LAMOTRIGINE, CLONAZEPAM))
    with (
        caplog.at_level(logging.ERROR),
        TestClient(create_app(make_settings(tmp_path), kb=shadow_kb)) as client,
    ):
        cards = client.post(SERVICE_URL, json=body).json()["cards"]
    assert _topics(cards) == {"BZD"}  # no data-gap card for a rule the EHR never sees
    failures = [r for r in caplog.records if r.getMessage() == "shadow rule evaluation failed"]
    assert [r.__dict__["failure"] for r in failures] == ["LTG: ZeroDivisionError"]
    assert _shadow_rows(tmp_path) == []
