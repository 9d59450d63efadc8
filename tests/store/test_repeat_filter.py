"""The repeat filter: order-sign leaves out what order-select showed, as the setting says."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cds_service.cdshooks.models import Card, HookRequest, Source
from cds_service.store.repeats import announcement_key, asks_to_filter
from tests.conftest import make_app, make_settings
from tests.payloads import CLONAZEPAM, PATIENT_ID, hook_request, ketamine_order

SELECT = "/cds-services/ketamine-infusion-order-select"
SIGN = "/cds-services/ketamine-infusion-order-sign"
PDDI = {"pddi-configuration-items": {"filter-out-repeated-alerts": True}}


def _moments(tmp_path: Path, mode: str, *, sign_extension: Any = None) -> tuple[list, list]:
    settings = make_settings(tmp_path, repeat_filter=mode)
    select = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM,))
    sign = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    if sign_extension is not None:
        sign["extension"] = sign_extension
    with TestClient(make_app(settings)) as client:
        selected = client.post(SELECT, json=select).json()["cards"]
        signed = client.post(SIGN, json=sign).json()["cards"]
    return selected, signed


def test_repeat_filter_off_shows_the_cards_at_both_moments(tmp_path: Path) -> None:
    selected, signed = _moments(tmp_path, "off", sign_extension=PDDI)
    assert len(selected) == len(signed) == 1


def test_repeat_filter_always_leaves_out_at_sign_what_select_showed(tmp_path: Path) -> None:
    selected, signed = _moments(tmp_path, "always")
    assert [c["source"]["topic"]["code"] for c in selected] == ["BZD"]
    assert signed == []


def test_repeat_filter_on_request_filters_only_when_the_client_asks(tmp_path: Path) -> None:
    _, asked = _moments(tmp_path / "a", "on-request", sign_extension=PDDI)
    _, not_asked = _moments(tmp_path / "b", "on-request")
    assert asked == []
    assert len(not_asked) == 1


def test_repeat_filter_never_hides_a_repeated_order_select(tmp_path: Path) -> None:
    # Clients replace a service's cards on every call: hiding them would empty the screen.
    settings = make_settings(tmp_path, repeat_filter="always")
    body = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM,))
    with TestClient(make_app(settings)) as client:
        first = client.post(SELECT, json=body).json()["cards"]
        again = client.post(SELECT, json={**body, "hookInstance": "second"}).json()["cards"]
    assert len(first) == len(again) == 1


def test_repeat_filter_shows_a_card_whose_content_changed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, repeat_filter="always")
    select = hook_request(ketamine_order(), hook="order-select", medications=(CLONAZEPAM,))
    moved = hook_request(
        ketamine_order(start="2026-11-29T09:00:00+00:00"), medications=(CLONAZEPAM,)
    )
    with TestClient(make_app(settings)) as client:
        client.post(SELECT, json=select)
        signed = client.post(SIGN, json=moved).json()["cards"]
    assert [c["source"]["topic"]["code"] for c in signed] == ["BZD"]


def test_repeat_filter_stores_only_hashes(tmp_path: Path) -> None:
    _moments(tmp_path, "always")
    with sqlite3.connect(tmp_path / "data" / "cds.db") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM announcements")]
    assert keys
    assert all(len(key) == 64 and int(key, 16) >= 0 for key in keys)
    dump = "\n".join(sqlite3.connect(tmp_path / "data" / "cds.db").iterdump())
    assert PATIENT_ID not in dump


def test_announcement_key_differs_per_patient_encounter_user_and_subject() -> None:
    card = Card(uuid="u", summary="s", indicator="info", source=Source(label="l"))
    base = {"userId": "Practitioner/1", "patientId": "p1", "encounterId": "e1"}

    def key(subject: str = "MedicationRequest/1", **context: str) -> str:
        request = HookRequest.model_validate(
            {"hook": "order-sign", "hookInstance": "h", "context": {**base, **context}}
        )
        return announcement_key(card, request, subject)

    keys = {
        key(),
        key(patientId="p2"),
        key(encounterId="e2"),
        key(userId="Practitioner/2"),
        key("MedicationRequest/2"),
    }
    assert len(keys) == 5


def test_asks_to_filter_reads_the_pddi_configuration_item() -> None:
    assert asks_to_filter(PDDI)
    assert not asks_to_filter({"pddi-configuration-items": {"filter-out-repeated-alerts": "yes"}})
    assert not asks_to_filter(None)


def test_repeat_filter_keeps_every_card_when_the_store_is_down() -> None:
    import asyncio

    from cds_service.errors import StoreUnavailable
    from cds_service.store.repeats import RepeatFilter

    class DownStore:
        async def remember_announcement(self, key: str, expires_at: float) -> bool:
            raise StoreUnavailable("down")

    card = Card(uuid="u", summary="s", indicator="info", source=Source(label="l"))
    request = HookRequest.model_validate(
        {"hook": "order-sign", "hookInstance": "h", "context": {"userId": "u", "patientId": "p"}}
    )
    repeats = RepeatFilter(DownStore(), "always")  # type: ignore[arg-type]
    kept = asyncio.run(repeats.apply(request, "MedicationRequest/1", [card], filters=True))
    assert kept == [card]
