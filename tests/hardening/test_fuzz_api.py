"""Fuzz the HTTP API from its own OpenAPI document (schemathesis): no 5xx, nothing undocumented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import respx
import schemathesis
from hypothesis import HealthCheck, event, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection

from cds_service.cdshooks.registry import HookRegistry
from tests.conftest import make_app
from tests.hardening.harness import hardening_settings

SERVICE_ID = "ketamine-infusion-check"
REGISTRY = HookRegistry.discover(SERVICE_ID)
# Every run draws new cases (no fixed seed), so runs add up; the count bounds what one run costs.
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = make_app(hardening_settings(tmp_path_factory.mktemp("fuzz-api")))
    # fhirServer values are fuzzed too: any outbound call the service makes gets a 503, not the network.
    with respx.mock(assert_all_called=False) as outbound:
        outbound.route().respond(503)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _call(case: Any, excluded: tuple[Any, ...] = ()) -> Any:
    # schemathesis' own checks too: every status and body the service answers is in the document.
    response = case.call_and_validate(excluded_checks=list(excluded))
    event(f"{case.method} {case.path} -> {response.status_code}")
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
    return response


# schemathesis' own lazy @parametrize breaks on pytest 9 ('_nodeid'); its strategies work with @given.
def test_api_when_fuzzed_from_openapi_never_answers_5xx(api_schema: Any) -> None:
    @FUZZ
    @given(case=api_schema.as_strategy())
    def fuzz(case: Any) -> None:
        _call(case)

    fuzz()


def test_service_routes_when_fuzzed_for_the_real_service_never_answer_5xx(api_schema: Any) -> None:
    @FUZZ
    @given(case=api_schema.include(path_regex="service_id").as_strategy())
    def fuzz(case: Any) -> None:
        case.path_parameters = {"service_id": _service_for(case)}
        assert _call(case).status_code != 404

    fuzz()


def _service_for(case: Any) -> str:
    """The id that serves the case's hook: the legacy one, or the hook's own for newer hooks."""
    hook = case.body.get("hook") if isinstance(case.body, dict) else None
    spec = REGISTRY.get(hook) if isinstance(hook, str) else None
    if spec is None or spec.on_legacy_id or spec.service_id is None:
        return SERVICE_ID
    return spec.service_id


def test_service_routes_when_fuzzed_with_schema_violating_bodies_never_answer_5xx(
    api_schema: Any,
) -> None:
    # Negative mode: every body breaks the document. Inbound models are tolerant on purpose (clients
    # add fields; pydantic reads `true` as 1), so some are answered 200: only 5xx is a failure.
    strategy = api_schema.include(path_regex="service_id").as_strategy(
        generation_mode=GenerationMode.NEGATIVE
    )

    @FUZZ
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        case.path_parameters = {"service_id": SERVICE_ID}
        _call(case, excluded=(negative_data_rejection,))

    fuzz()
