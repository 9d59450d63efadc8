"""Run the real app in-process for hostile-input tests: lifespan started, no network beyond it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import respx
from anyio.from_thread import start_blocking_portal

from cds_service.settings import Settings
from tests.conftest import make_app

SERVICE_PATH = "/cds-services/ketamine-infusion-check"
PATIENT_ID = "pt-hardening-5521"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

Send = Callable[..., httpx.Response]


def hardening_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


@contextmanager
def running_app(
    settings: Settings, *, outbound_json: dict[str, Any] | None = None
) -> Iterator[Send]:
    """A blocking ``send(method, url, **kwargs)`` into the app; outbound HTTP answers 503.

    ``outbound_json`` maps URLs the app may fetch (a JWKS, say) to the JSON they answer with.
    """
    app = make_app(settings)
    with respx.mock(assert_all_called=False) as outbound:
        for url, document in (outbound_json or {}).items():
            outbound.get(url).respond(json=document)
        outbound.route().respond(503)
        with start_blocking_portal() as portal:
            with portal.wrap_async_context_manager(app.router.lifespan_context(app)):
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
                try:
                    yield lambda method, url, **kw: portal.call(
                        partial(client.request, method, url, **kw)
                    )
                finally:
                    portal.call(client.aclose)


def ketamine_order() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "ket-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "text": "ketamine 50 mg/mL IV infusion",
            "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}],
        },
        "dosageInstruction": [{"text": "0.5 mg/kg IV over 40 minutes"}],
    }


def clonazepam_statement() -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "active",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "197527", "display": "Clonazepam 0.5 MG"}]
        },
        "dosage": [{"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
    }


def hook_body() -> dict[str, Any]:
    """An order-sign request that fires (ketamine + a benzodiazepine), to be mutated by the fuzzers."""
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/example",
            "patientId": PATIENT_ID,
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": ketamine_order()}]},
        },
        "prefetch": {
            "medicationStatements": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": clonazepam_statement()}],
            },
            "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        },
    }
