"""The shadow page: how often each shadow rule would have fired, on which classes of record, beside the
active rules over the same evaluated calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from cds_service.app import create_app
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.loader import load_knowledge_base
from tests.conftest import SERVICE_URL
from tests.console.conftest import BASE, console_settings, log_in
from tests.payloads import CLONAZEPAM, hook_request, ketamine_order, statement
from tests.rules.kb_files import copy_cards, set_status

LAMOTRIGINE = statement(
    "ms-ltg",
    "28439",
    "lamotrigine",
    dosage=[{"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}],
    effectivePeriod={"start": "2026-06-01"},
)
AS_NEEDED = statement("ms-ltg-prn", "28439", "lamotrigine", dosage=[{"asNeededBoolean": True}])


@pytest.fixture(scope="module")
def shadow_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    cards = copy_cards(tmp_path_factory.mktemp("shadow"))
    set_status(cards, "LTG", "shadow")
    return load_knowledge_base(cards)


def _row(html: str, label: str) -> str:
    found = re.search(rf'<tr data-rule="{label}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {label}"
    return found.group(1)


def test_shadow_page_counts_would_have_fired_beside_the_active_rules(
    tmp_path: Path, shadow_kb: KnowledgeBase
) -> None:
    calls = [
        (LAMOTRIGINE, CLONAZEPAM),
        (LAMOTRIGINE,),
        (AS_NEEDED,),
        (CLONAZEPAM,),
    ]
    version = shadow_kb.rule("LTG").version
    with TestClient(create_app(console_settings(tmp_path), kb=shadow_kb), base_url=BASE) as client:
        for medications in calls:
            body = hook_request(ketamine_order(), medications=medications)
            assert client.post(SERVICE_URL, json=body).status_code == 200
        log_in(client)
        html = client.get("/console/shadow").text
    cells = re.findall(r"<td>(.*?)</td>", _row(html, f"LTG v{version}"), re.S)
    assert cells[1:3] == ["3", "75.0 %"]  # 3 of the 4 evaluated calls
    assert str(escape("lamotrigine · MedicationStatement · current · scheduled: 2")) in cells[3]
    assert str(escape("lamotrigine · MedicationStatement · current · as needed: 1")) in cells[3]
    bzd = re.search(r"<th scope=\"row\">BZD v\d+</th><td>(\d+)</td><td>(.*?)</td>", html)
    assert bzd is not None
    assert bzd.groups() == ("2", "50.0 %")
    assert "over the same 4 evaluated calls" in html


def test_shadow_page_lists_a_loaded_shadow_rule_that_has_not_fired(
    tmp_path: Path, shadow_kb: KnowledgeBase
) -> None:
    with TestClient(create_app(console_settings(tmp_path), kb=shadow_kb), base_url=BASE) as client:
        log_in(client)
        html = client.get("/console/shadow").text
    version = shadow_kb.rule("LTG").version
    assert re.findall(r"<td>(.*?)</td>", _row(html, f"LTG v{version}"), re.S)[1:3] == ["0", "-"]


def test_shadow_page_without_shadow_rules_says_so(logged_in: TestClient) -> None:
    assert "No shadow rule is loaded" in logged_in.get("/console/shadow").text
