"""JWT mode through the real app: an issuer's requests may name only that issuer's FHIR servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cds_service.fhir.outbound import NOT_LISTED
from tests.auth.conftest import JWKS_URL, FrozenClock, Minter, SigningKey, jwks
from tests.hardening.harness import (
    SERVICE_PATH,
    Send,
    clonazepam_statement,
    hardening_settings,
    hook_body,
    running_app,
)

BASE = "http://testserver"
ISS = "https://ehr.example.org"
OWN_FHIR = "https://fhir.ehr.example.org/r4"


@pytest.fixture
def send(tmp_path: Path, ec_key: SigningKey) -> Iterator[Send]:
    config = hardening_settings(
        tmp_path,
        auth="jwt",
        trusted_issuers={ISS: {"jwks_url": JWKS_URL, "fhir_servers": [OWN_FHIR]}},
    )
    searchset = {"resourceType": "Bundle", "type": "searchset"}
    outbound = {
        JWKS_URL: jwks(ec_key),
        f"{OWN_FHIR}/MedicationStatement": {
            **searchset,
            "entry": [{"resource": clonazepam_statement()}],
        },
        f"{OWN_FHIR}/MedicationRequest": {**searchset, "entry": []},
    }
    with running_app(config, outbound_json=outbound) as send:
        yield send


def _fetching(fhir_server: str) -> dict[str, object]:
    body = hook_body()
    del body["prefetch"]
    body["fhirServer"] = fhir_server
    return body


def test_hook_when_fhir_server_is_the_issuers_own_fetches_and_answers_cards(
    send: Send, ec_key: SigningKey
) -> None:
    token = Minter(FrozenClock(time.time())).bearer(ec_key, aud=BASE + SERVICE_PATH)

    response = send(
        "POST", SERVICE_PATH, json=_fetching(OWN_FHIR), headers={"Authorization": token}
    )

    assert response.status_code == 200
    assert [c["source"]["topic"]["code"] for c in response.json()["cards"]] == ["BZD"]


@pytest.mark.parametrize(
    "fhir_server",
    [
        "https://other-ehr.example.net/fhir",
        "https://169.254.169.254/latest",
        "https://10.0.0.5/fhir",
    ],
)
def test_hook_when_fhir_server_is_not_the_issuers_answers_412_without_calling_it(
    send: Send, ec_key: SigningKey, fhir_server: str
) -> None:
    token = Minter(FrozenClock(time.time())).bearer(ec_key, aud=BASE + SERVICE_PATH)

    response = send(
        "POST", SERVICE_PATH, json=_fetching(fhir_server), headers={"Authorization": token}
    )

    assert response.status_code == 412
    assert NOT_LISTED in response.json()["issue"][0]["diagnostics"]
