"""/metrics: Prometheus text with the CDS series after real calls, and no identifier in any label."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cds_service.fhir import outbound, reader
from cds_service.ops.metrics import GAP_REASONS, Metrics, gap_reason
from cds_service.ops.transport import MeteredTransport
from tests.conftest import SERVICE_URL, make_app, make_settings
from tests.payloads import CLONAZEPAM, PATIENT_ID, bundle, hook_request, ketamine_order


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scraped(tmp_path: Path) -> tuple[str, dict, list[str]]:
    """Two hook calls (one with a data gap), one feedback item, then a scrape of /metrics."""
    settings = make_settings(tmp_path, metrics=True)
    with_cards = hook_request(ketamine_order(), medications=(CLONAZEPAM,))
    # Statements in prefetch, requests neither prefetched nor fetchable: a data gap.
    context = {key: bundle() for key in ("conditions", "socialHistory", "bloodPressure")}
    with_gap = hook_request(
        ketamine_order(), prefetch={"medicationStatements": bundle(CLONAZEPAM), **context}
    )
    with TestClient(make_app(settings)) as client:
        cards = client.post(SERVICE_URL, json=with_cards).json()["cards"]
        assert client.post(SERVICE_URL, json=with_gap).status_code == 200
        feedback = {"card": cards[0]["uuid"], "outcome": "overridden"}
        feedback["outcomeTimestamp"] = "2026-11-27T15:00:01Z"
        assert (
            client.post(f"{SERVICE_URL}/feedback", json={"feedback": [feedback]}).status_code == 200
        )
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    identifiers = [
        PATIENT_ID,
        with_cards["hookInstance"],
        with_gap["hookInstance"],
        cards[0]["uuid"],
    ]
    return response.text, _samples(response.text), identifiers


def test_metrics_after_hook_calls_count_evaluations_cards_gaps_and_feedback(scraped) -> None:
    _, samples, _ = scraped
    assert _value(samples, "cds_evaluations_total", hook="order-sign", outcome="cards") == 2
    assert _value(samples, "cds_cards_total", topic="BZD", indicator="warning") == 2
    assert _value(samples, "cds_cards_total", topic="DATAGAP", indicator="warning") == 1
    assert _value(samples, "cds_data_gaps_total", reason="no-server") == 1
    assert _value(samples, "cds_feedback_total", topic="BZD", outcome="overridden") == 1
    route = "/cds-services/{service_id}"
    assert _value(samples, "cds_http_requests_total", route=route, method="POST", status="200") == 2
    count = "cds_http_request_duration_seconds_count"
    assert _value(samples, count, route=route, method="POST", status="200") == 2


def test_metrics_labels_carry_no_patient_id_hook_instance_or_card_uuid(scraped) -> None:
    text, samples, identifiers = scraped
    values = {value for _, labels in samples for _, value in labels}
    assert values  # the scrape had labelled series
    assert [v for v in values if any(i in v for i in identifiers)] == []
    assert [i for i in identifiers if i in text] == []


def test_metrics_when_off_is_not_served(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_gap_reason_maps_free_text_to_the_fixed_vocabulary() -> None:
    labels = {label for label, _ in GAP_REASONS} | {"other"}
    assert gap_reason("FHIR server timed out after 2.0 s") == "timeout"
    assert gap_reason("only 10 page(s) read: more than 10 pages") == "truncated"
    assert gap_reason(f"Patient {PATIENT_ID} said something unexpected") in labels


def test_fhir_requests_are_counted_by_outcome_and_jwks_downloads_are_not() -> None:
    metrics = Metrics()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200 if request.url.path.endswith("/ok") else 503, json={})

    async def calls() -> None:
        transport = MeteredTransport(httpx.MockTransport(answer), metrics.fhir_request)
        fhir = {"Accept": "application/fhir+json"}
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://ehr.test/fhir/ok", headers=fhir)
            await client.get("https://ehr.test/fhir/busy", headers=fhir)
            with pytest.raises(httpx.ConnectError):
                await client.get("https://ehr.test/fhir/down", headers=fhir)
            await client.get("https://ehr.test/.well-known/jwks.json/ok")

    asyncio.run(calls())
    samples = _samples(metrics.exposition().decode())
    counted = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "cds_fhir_requests_total"
    }
    assert counted == {"ok": 1, "server-error": 1, "unreachable": 1}


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        (reader.TIMED_OUT, "timeout"),
        (reader.UNREACHABLE, "unreachable"),
        (reader.UNREADABLE, "bad-answer"),
        (reader.TOO_LARGE, "too-large"),
        (reader.ADDRESS_REFUSED, "server-refused"),
        (outbound.NOT_LISTED, "server-refused"),
        (outbound.NOT_HTTPS, "server-refused"),
        ("4,799 of 4,999 not read (at most 200 are read per call)", "truncated"),
        (f"1 of 2 could not be read: {reader.TIMED_OUT}", "timeout"),
    ],
)
def test_gap_reason_labels_each_kind_of_fhir_failure(reason: str, label: str) -> None:
    assert gap_reason(reason) == label
