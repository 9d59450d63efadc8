"""Builders for the scheduling hooks' requests (appointment-book, patient-view, encounter-start)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from cds_service.settings import Settings
from tests.conftest import make_app
from tests.payloads import CLONAZEPAM, PATIENT_ID, bundle, statement

# Monday 30 November 2026, noon UTC: the service's clock in these tests.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Tuesday 1 December 2026, 15:00 UTC = 09:00 in Chicago (CST, UTC-6).
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
LAMOTRIGINE = statement(
    "ms-lamotrigine",
    "28439",
    "lamotrigine 100 MG Oral Tablet",
    dosage=[
        {
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 100, "unit": "mg"}}],
        }
    ],
    effectivePeriod={"start": "2025-06-01"},
)
MEDICATIONS = (CLONAZEPAM, LAMOTRIGINE)
BOOK_URL = "/cds-services/ketamine-infusion-appointment-book"
VIEW_URL = "/cds-services/ketamine-infusion-patient-view"
CHECKIN_URL = "/cds-services/ketamine-infusion-encounter-start"


def appointment(
    apt_id: str = "apt-1",
    start: datetime | str | None = START,
    *,
    minutes: int = 60,
    service: str = "Ketamine IV infusion",
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": apt_id,
        "status": "proposed",
        "serviceType": [{"text": service}],
        "participant": [
            {"actor": {"reference": f"Patient/{PATIENT_ID}"}, "status": "accepted"},
        ],
    }
    if isinstance(start, datetime):
        body["start"] = start.isoformat().replace("+00:00", "Z")
        body["end"] = (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    elif start is not None:
        body["start"] = start
    return {**body, **fields}


def series(count: int, first: datetime = START) -> list[dict[str, Any]]:
    return [appointment(f"apt-{i + 1}", first + timedelta(days=7 * i)) for i in range(count)]


def book_request(
    *appointments: dict[str, Any],
    medications: tuple[dict[str, Any], ...] = MEDICATIONS,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "hook": "appointment-book",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/COREPRACTITIONER1",
            "patientId": PATIENT_ID,
            "appointments": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": a} for a in appointments],
            },
        },
        "prefetch": {
            "medicationStatements": bundle(*medications),
            "medicationRequests": bundle(),
            "conditions": bundle(),
            "socialHistory": bundle(),
            "bloodPressure": bundle(),
        },
        **extra,
    }


def view_request(
    hook: str = "patient-view",
    *,
    appointments: list[dict[str, Any]] | None = None,
    medications: tuple[dict[str, Any], ...] = MEDICATIONS,
    prefetch: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A patient-view (or encounter-start) call; ``appointments`` None leaves the key out."""
    if prefetch is None:
        prefetch = {
            "medicationStatements": bundle(*medications),
            "medicationRequests": bundle(),
            "conditions": bundle(),
            "socialHistory": bundle(),
            "bloodPressure": bundle(),
        }
        if appointments is not None:
            prefetch["appointments"] = bundle(*appointments)
    context = {"userId": "Practitioner/COREPRACTITIONER1", "patientId": PATIENT_ID}
    if hook == "encounter-start":
        context["encounterId"] = "enc-1"
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
        **extra,
    }


@contextmanager
def frozen_client(settings: Settings, now: datetime = NOW) -> Iterator[TestClient]:
    """A TestClient whose service reads ``now`` from its clock (the service's one seam for time)."""
    app = make_app(settings)
    with TestClient(app) as client:
        app.state.service.clock = lambda: now
        yield client


def topics(response_json: dict[str, Any]) -> list[str]:
    return [card["source"]["topic"]["code"] for card in response_json["cards"]]
