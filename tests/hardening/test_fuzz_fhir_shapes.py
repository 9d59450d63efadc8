"""Hostile and imperfect FHIR in prefetch bundles and draft orders never earns a 5xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.hardening.harness import (
    SERVICE_PATH,
    Send,
    clonazepam_statement,
    hardening_settings,
    hook_body,
    ketamine_order,
    running_app,
)

FHIR_KEYS = (
    "resourceType", "id", "status", "intent", "subject", "reference", "medicationCodeableConcept",
    "medicationReference", "coding", "system", "code", "display", "text", "dosageInstruction",
    "dosage", "timing", "repeat", "boundsPeriod", "start", "end", "doseAndRate", "doseQuantity",
    "value", "unit", "route", "category", "effectivePeriod", "authoredOn", "entry", "resource",
    "contained", "extension", "url", "valueString", "frequency", "period", "periodUnit",
)  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["6130", "197527", "mg", "mg/kg", "IV", "draft", "active", "Patient/x"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FHIR_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"extension": value}
    return value


hostile_values = (
    json_values
    | st.builds(lambda n: "x" * n, st.integers(min_value=10_000, max_value=300_000))
    | st.builds(_nested, st.integers(min_value=20, max_value=400))
    | st.builds(lambda n: [{"resource": {"resourceType": "MedicationStatement"}}] * n,
                st.integers(min_value=100, max_value=6_000))
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(body: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> None:
    if not path:
        return
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


JSON = {"Content-Type": "application/json"}
BASE_PATHS = [p for p in _paths(hook_body()) if p and p[0] in {"context", "prefetch"}]
mutation = st.tuples(st.sampled_from(BASE_PATHS), hostile_values, st.booleans())
# Every run draws new examples (no fixed seed), so runs add up; the counts bound what one run costs.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Drawing nested JSON for three bundles is most of this test's time: it gets fewer examples.
FUZZ_BUNDLES = settings(FUZZ, max_examples=25)


@pytest.fixture(scope="module")
def send(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Send]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-fhir")
    with running_app(hardening_settings(data_dir)) as send:
        yield send


def _assert_not_server_error(send: Send, body: Any) -> None:
    # json.dumps keeps NaN/Infinity, which Python's parser (and so the service) accepts.
    content = json.dumps(body).encode()
    response = send("POST", SERVICE_PATH, content=content, headers=JSON)
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.text[:500]
    assert response.status_code in {200, 400, 412, 413}, response.status_code


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_hook_when_fields_replaced_with_hostile_values_never_answers_5xx(
    send: Send, mutations: list[tuple[tuple[Any, ...], Any, bool]]
) -> None:
    body = hook_body()
    for path, value, delete in mutations:
        try:
            _mutate(body, path, copy.deepcopy(value), delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped this path's parent
    _assert_not_server_error(send, body)


fhir_resources = st.dictionaries(st.sampled_from(FHIR_KEYS), json_values, max_size=10).map(
    lambda r: {**r, "resourceType": r.get("resourceType", "MedicationStatement")}
)
entries = st.lists(
    st.one_of(st.builds(lambda r: {"resource": r}, fhir_resources), json_values), max_size=8
)


@FUZZ_BUNDLES
@given(statements=entries, requests=entries, drafts=entries)
def test_hook_when_bundles_hold_random_resources_never_answers_5xx(
    send: Send, statements: list[Any], requests: list[Any], drafts: list[Any]
) -> None:
    body = hook_body()
    body["prefetch"]["medicationStatements"]["entry"] += [{"resource": clonazepam_statement()}]
    body["prefetch"]["medicationStatements"]["entry"] += statements
    body["prefetch"]["medicationRequests"]["entry"] = requests
    body["context"]["draftOrders"]["entry"] = [{"resource": ketamine_order()}, *drafts]
    _assert_not_server_error(send, body)


@FUZZ
@given(raw=st.binary(max_size=2_000) | st.text(max_size=2_000).map(str.encode))
def test_hook_when_body_is_arbitrary_bytes_never_answers_5xx(send: Send, raw: bytes) -> None:
    response = send("POST", SERVICE_PATH, content=raw, headers=JSON)

    assert response.status_code < 500, response.text[:500]


def test_hook_when_body_nested_past_the_limit_refuses_it(send: Send) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000

    response = send("POST", SERVICE_PATH, content=deep, headers=JSON)

    assert response.status_code in {400, 413}


def test_hook_when_body_over_size_limit_answers_413(send: Send) -> None:
    huge = b'{"hook": "order-sign", "pad": "' + b"x" * 5_100_000 + b'"}'

    response = send("POST", SERVICE_PATH, content=huge, headers=JSON)

    assert response.status_code == 413
