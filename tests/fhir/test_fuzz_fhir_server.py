"""Any text as fhirServer (or as a next link) is refused or fails as missing data, never raises."""

from __future__ import annotations

import asyncio

import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.clinical.types import MedicationData
from cds_service.errors import DataUnavailable
from tests.fhir.builders import gather, hook_request, order, searchset

_URLISH = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["https", "http", "HTTPS", "ftp", ""]),
    st.text(max_size=24),
    st.text(max_size=24),
)
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def _gather_offline(**request: object) -> MedicationData | DataUnavailable:
    async def run() -> MedicationData | DataUnavailable:
        with respx.mock(assert_all_called=False) as outbound:  # nothing leaves the process
            outbound.route().respond(503)
            try:
                return await gather(hook_request(**request), budget_seconds=1)  # type: ignore[arg-type]
            except DataUnavailable as exc:
                return exc

    return asyncio.run(run())


@_FUZZ
@given(server=st.one_of(st.text(max_size=60), _URLISH))
def test_gather_with_any_fhir_server_text_answers_or_reports_data_unavailable(server: str) -> None:
    assert isinstance(_gather_offline(fhir_server=server), DataUnavailable)


@_FUZZ
@given(link=st.one_of(st.text(max_size=60), _URLISH))
def test_gather_with_any_next_link_keeps_the_first_page(link: str) -> None:
    first = searchset(order("r1"), next_url=link)

    data = _gather_offline(prefetch={"medicationStatements": None, "medicationRequests": first})

    assert isinstance(data, MedicationData)
    assert [s.resource["id"] for s in data.resources][:1] == ["r1"]
