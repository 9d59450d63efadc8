"""appointment-book: hold windows from the booked start, one card per class, nothing otherwise."""

from __future__ import annotations

from pathlib import Path

from tests.cdshooks.appointments import (
    BOOK_URL,
    MEDICATIONS,
    appointment,
    book_request,
    frozen_client,
    series,
    topics,
)
from tests.conftest import make_settings
from tests.payloads import statement


def test_discovery_lists_appointment_book_under_its_own_id(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        services = client.get("/cds-services").json()["services"]
    entry = next(s for s in services if s["hook"] == "appointment-book")
    assert entry["id"] == "ketamine-infusion-appointment-book"
    assert "{{context.patientId}}" in entry["prefetch"]["medicationStatements"]


def test_appointment_book_for_an_infusion_gives_bzd_and_ltg_holds_from_its_start(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, timezone="America/Chicago")
    with frozen_client(settings) as client:
        body = client.post(BOOK_URL, json=book_request(appointment())).json()
    assert sorted(topics(body)) == ["BZD", "LTG"]
    details = {card["source"]["topic"]["code"]: card["detail"] for card in body["cards"]}
    # 09:00 CST start, 10:00 end: 12 h before; resume 4 h (BZD) / 6 h (LTG) after the end.
    assert "No clonazepam from 21:00 CST on 30 Nov" in details["BZD"]
    assert "resume after 14:00 CST on 1 Dec" in details["BZD"]
    assert "resume after 16:00 CST on 1 Dec" in details["LTG"]


def test_appointment_book_for_another_service_gives_no_cards(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        response = client.post(BOOK_URL, json=book_request(appointment(service="Iron infusion")))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_appointment_book_for_a_non_infusion_needs_no_medication_data(tmp_path: Path) -> None:
    request = book_request(appointment(service="Dental cleaning"))
    request["prefetch"] = {}
    with frozen_client(make_settings(tmp_path)) as client:
        assert client.post(BOOK_URL, json=request).json() == {"cards": []}


def test_appointment_book_of_a_past_session_gives_no_cards(tmp_path: Path) -> None:
    past = appointment(start="2026-11-02T15:00:00Z", end="2026-11-02T16:00:00Z")
    with frozen_client(make_settings(tmp_path)) as client:
        assert client.post(BOOK_URL, json=book_request(past)).json() == {"cards": []}


def test_appointment_book_series_of_three_lists_three_windows(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=book_request(*series(3))).json()
    bzd = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "BZD")
    assert len(topics(body)) == 2
    for day in ("1 Dec", "8 Dec", "15 Dec"):
        assert f"15:00 UTC on {day}: from 03:00 UTC on" in bzd["detail"]
    windows = bzd["extension"]["ketamineCds.holdWindows"]
    assert [w["appointment"] for w in windows] == [
        "Appointment/apt-1",
        "Appointment/apt-2",
        "Appointment/apt-3",
    ]


def test_appointment_book_window_already_open_says_so(tmp_path: Path) -> None:
    soon = appointment(start="2026-11-30T20:00:00Z")
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=book_request(soon)).json()
    bzd = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "BZD")
    assert "Hold window already open" in bzd["detail"]
    assert "Confirm when clonazepam was last taken" in bzd["detail"]


def test_appointment_book_without_appointments_is_a_400_naming_the_field(tmp_path: Path) -> None:
    request = book_request(appointment())
    del request["context"]["appointments"]
    with frozen_client(make_settings(tmp_path)) as client:
        response = client.post(BOOK_URL, json=request)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.appointments"]


def test_appointment_book_with_a_date_only_start_gives_no_clock_times(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=book_request(appointment(start="2026-12-03"))).json()
    bzd = next(c for c in body["cards"] if c["source"]["topic"]["code"] == "BZD")
    assert "Infusion on 3 Dec, start time not given" in bzd["detail"]
    assert "UTC" not in bzd["detail"]


def test_appointment_book_offers_no_order_note_and_no_order_cancel(tmp_path: Path) -> None:
    theophylline = statement("ms-theo", "10438", "theophylline 300 MG Extended Release Tablet")
    request = book_request(appointment(), medications=(theophylline, *MEDICATIONS))
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=request).json()
    actions = [a for c in body["cards"] for s in c.get("suggestions", []) for a in s["actions"]]
    assert "XANTHINE" in topics(body)
    assert not [a for a in actions if a["type"] == "delete"]
    assert all(
        a["resource"]["resourceType"] != "MedicationRequest" for a in actions if "resource" in a
    )
