"""The patient's plan, delivered as each client can take it; every resource valid R4B."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from tests.cdshooks.appointments import (
    BOOK_URL,
    CHECKIN_URL,
    MEDICATIONS,
    START,
    VIEW_URL,
    appointment,
    book_request,
    frozen_client,
    series,
    view_request,
)
from tests.conftest import make_settings
from tests.payloads import PATIENT_ID, hook_request, ketamine_order

SIGN_URL = "/cds-services/ketamine-infusion-order-sign"
CHICAGO = {"timezone": "America/Chicago"}


def _card(body: dict[str, Any], topic: str = "BZD") -> dict[str, Any]:
    return next(c for c in body["cards"] if c["source"]["topic"]["code"] == topic)


def _patient_suggestion(card: dict[str, Any]) -> dict[str, Any]:
    (suggestion,) = [s for s in card.get("suggestions", []) if "patient" in s["label"].lower()]
    return suggestion


def test_appointment_book_offers_the_plan_in_the_appointment_patient_instruction(
    tmp_path: Path,
) -> None:
    with frozen_client(make_settings(tmp_path, **CHICAGO)) as client:
        body = client.post(BOOK_URL, json=book_request(appointment())).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    assert (action["type"], action["resource"]["id"]) == ("update", "apt-1")
    Appointment.model_validate(action["resource"])
    text = action["resource"]["patientInstruction"]
    assert "no later than 9:00 pm on Monday 30 November" in text
    assert "All times are clinic time (CST)." in text
    # The same suggestion on the lamotrigine card: whichever is accepted writes the whole plan.
    (ltg_action,) = _patient_suggestion(_card(body, "LTG"))["actions"]
    assert ltg_action["resource"] == action["resource"]


def test_appointment_book_keeps_the_clinic_own_instruction(tmp_path: Path) -> None:
    booked = appointment(patientInstruction="Bring a driver home.")
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=book_request(booked)).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    assert action["resource"]["patientInstruction"].startswith("Bring a driver home.\n\n")


def test_appointment_book_series_writes_each_appointment_its_own_session(tmp_path: Path) -> None:
    with frozen_client(make_settings(tmp_path, **CHICAGO)) as client:
        body = client.post(BOOK_URL, json=book_request(*series(3))).json()
    suggestion = _patient_suggestion(_card(body))
    assert suggestion["label"] == "Add the patient's medicine instructions to the 3 appointments"
    texts = [a["resource"]["patientInstruction"] for a in suggestion["actions"]]
    for text, day in zip(texts, ("1 December", "8 December", "15 December"), strict=True):
        assert f"Your infusion is at 9:00 am on Tuesday {day}." in text
        assert text.count("Your infusion is at") == 1


def test_order_sign_offers_a_communication_request_to_the_patient(tmp_path: Path) -> None:
    request = hook_request(ketamine_order(start="2026-12-01T15:00:00Z"), medications=MEDICATIONS)
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(SIGN_URL, json=request).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    resource = action["resource"]
    CommunicationRequest.model_validate(resource)
    assert action["type"] == "create"
    assert resource["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
    assert resource["recipient"] == [{"reference": f"Patient/{PATIENT_ID}"}]
    assert resource["about"] == [{"reference": "MedicationRequest/ket-1"}]
    assert resource["requester"] == {"reference": "Practitioner/COREPRACTITIONER1"}
    assert "Take your last dose of clonazepam" in resource["payload"][0]["contentString"]


@pytest.mark.parametrize(
    ("user_id", "encounter_id", "order_id"),
    [
        ("Practitioner/COREPRACTITIONER1", "enc-1", "ket-1"),
        ("PractitionerRole/role-1", None, "ket-1"),
        ("Patient/self", "e", None),  # no requester, no order id to be about
        ("urn:user:1", None, "ket 1 with spaces"),
    ],
)
def test_order_sign_communication_request_is_valid_r4b_for_any_caller(
    tmp_path: Path, user_id: str, encounter_id: str | None, order_id: str | None
) -> None:
    # The resource is not validated per call: this proves its shape across what a call varies.
    order = ketamine_order(start="2026-12-01T15:00:00Z")
    if order_id is None:
        order.pop("id")
    else:
        order["id"] = order_id
    request = hook_request(order, medications=MEDICATIONS)
    request["context"]["userId"] = user_id
    if encounter_id is not None:
        request["context"]["encounterId"] = encounter_id
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(SIGN_URL, json=request).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    CommunicationRequest.model_validate(action["resource"])
    assert ("requester" in action["resource"]) == user_id.startswith("Practitioner")
    assert ("encounter" in action["resource"]) == (encounter_id is not None)


def test_patient_view_communication_request_is_about_the_appointment(tmp_path: Path) -> None:
    request = view_request(appointments=[appointment(status="booked")])
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(VIEW_URL, json=request).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    assert action["resource"]["about"] == [{"reference": "Appointment/apt-1"}]


def test_epic_gets_the_plan_as_card_text_and_no_communication_request(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ehr_profile="epic", **CHICAGO)
    with frozen_client(settings) as client:
        body = client.post(VIEW_URL, json=view_request(appointments=[appointment()])).json()
    resources = [
        a.get("resource", {}).get("resourceType")
        for c in body["cards"]
        for s in c.get("suggestions", [])
        for a in s["actions"]
    ]
    assert "CommunicationRequest" not in resources
    bzd, ltg = _card(body), _card(body, "LTG")
    assert "**For the patient** (plain language)" in bzd["detail"]
    assert "Take your last dose of clonazepam" in bzd["detail"]
    assert "lamotrigine" not in bzd["detail"].split("**For the patient**")[1]
    # What always applies is said once, on one card.
    details = bzd["detail"] + ltg["detail"]
    assert details.count("Tell the care team about every other medicine") == 1


def test_epic_with_a_preference_code_orders_the_patient_instruction(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ehr_profile="epic", epic_preference_list_codes={"patient-instruction": "PL-9"}
    )
    with frozen_client(settings) as client:
        body = client.post(VIEW_URL, json=view_request(appointments=[appointment()])).json()
    (action,) = _patient_suggestion(_card(body))["actions"]
    ServiceRequest.model_validate(action["resource"])
    assert action["resource"]["code"]["coding"][0]["code"] == "PL-9"
    assert "Take your last dose of clonazepam" in action["resource"]["patientInstruction"]


def test_hold_windows_extension_carries_the_appointment_and_the_patient_text(
    tmp_path: Path,
) -> None:
    with frozen_client(make_settings(tmp_path)) as client:
        body = client.post(BOOK_URL, json=book_request(appointment())).json()
    (window,) = _card(body)["extension"]["ketamineCds.holdWindows"]
    assert window["appointment"] == "Appointment/apt-1"
    assert window["patientText"].startswith("Take your last dose of clonazepam")


def test_encounter_start_offers_no_patient_instructions(tmp_path: Path) -> None:
    request = view_request("encounter-start", appointments=[appointment(status="arrived")])
    with frozen_client(make_settings(tmp_path), now=START - timedelta(hours=1)) as client:
        body = client.post(CHECKIN_URL, json=request).json()
    labels = [s["label"] for c in body["cards"] for s in c.get("suggestions", [])]
    assert body["cards"]
    assert not [label for label in labels if "patient" in label.lower()]
