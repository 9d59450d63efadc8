"""Infusion appointments: recognised by the manifest's codes, phrases and services; placed in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.clinical.appointments import (
    AppointmentVocabulary,
    bundle_resources,
    infusion_sessions,
    session_trigger,
    starting_within,
    upcoming,
)
from tests.pipeline import compiled

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
VOCABULARY = compiled().appointments


def appointment(apt_id: str = "a1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": apt_id,
        "status": "proposed",
        "start": "2026-12-01T15:00:00Z",
        "end": "2026-12-01T16:00:00Z",
        "serviceType": [{"text": "Ketamine IV infusion"}],
    }
    return {**body, **fields}


def _sessions(*resources: dict[str, Any], esketamine: bool = False):
    return infusion_sessions(resources, VOCABULARY, include_esketamine=esketamine)


def test_appointment_when_service_type_names_ketamine_infusion_is_a_session() -> None:
    (session,) = _sessions(appointment())
    assert session.reference == "Appointment/a1"
    assert session.start is not None
    assert session.start.at == datetime(2026, 12, 1, 15, tzinfo=UTC)
    assert session.end == datetime(2026, 12, 1, 16, tzinfo=UTC)


def test_appointment_when_only_description_says_so_is_a_session() -> None:
    body = appointment(serviceType=None, description="Infusion of ketamine, session 3 of 6")
    assert len(_sessions(body)) == 1


def test_appointment_for_a_ketamine_consult_is_not_a_session() -> None:
    assert _sessions(appointment(serviceType=[{"text": "Ketamine consult"}])) == ()


def test_appointment_for_an_iron_infusion_is_not_a_session() -> None:
    assert _sessions(appointment(serviceType=[{"text": "Iron infusion"}])) == ()


def test_appointment_cancelled_is_not_a_session() -> None:
    assert _sessions(appointment(status="cancelled")) == ()


def test_appointment_with_a_site_code_is_a_session() -> None:
    vocabulary = AppointmentVocabulary.build([("urn:site:appt", "KET-IV")], phrases=())
    body = appointment(serviceType=[{"coding": [{"system": "urn:site:appt", "code": "KET-IV"}]}])
    assert len(infusion_sessions([body], vocabulary, include_esketamine=False)) == 1


def test_appointment_naming_the_site_service_is_a_session() -> None:
    vocabulary = AppointmentVocabulary.build([], [], services=["HealthcareService/ket"])
    body = appointment(
        serviceType=None, participant=[{"actor": {"reference": "HealthcareService/ket"}}]
    )
    assert len(infusion_sessions([body], vocabulary, include_esketamine=False)) == 1


def test_appointment_whose_bundled_service_is_named_ketamine_infusion_is_a_session() -> None:
    service = {"resourceType": "HealthcareService", "id": "hs1", "name": "Ketamine Infusion Clinic"}
    body = appointment(
        serviceType=None, participant=[{"actor": {"reference": "HealthcareService/hs1"}}]
    )
    assert len(_sessions(body, service)) == 1
    assert _sessions(body) == ()


def test_appointment_for_spravato_counts_only_when_esketamine_is_enabled() -> None:
    body = appointment(serviceType=[{"text": "Spravato treatment session"}])
    assert _sessions(body) == ()
    (session,) = _sessions(body, esketamine=True)
    assert session.esketamine


def test_appointment_with_a_date_only_start_keeps_the_date_and_no_end() -> None:
    (session,) = _sessions(appointment(start="2026-12-03", end=None))
    assert session.start is not None
    assert session.start.at is None
    assert session.start.day.isoformat() == "2026-12-03"
    assert session.end is None


def test_sessions_come_earliest_first_and_undated_last() -> None:
    later = appointment("late", start="2026-12-15T15:00:00Z", end=None)
    undated = appointment("none", start=None, end=None)
    found = _sessions(later, undated, appointment("early"))
    assert [s.reference for s in found] == [
        "Appointment/early",
        "Appointment/late",
        "Appointment/none",
    ]


def test_bundle_resources_reads_entries_and_tolerates_junk() -> None:
    bundle = {"entry": [{"resource": appointment()}, {"resource": "x"}, "y"]}
    assert [r["id"] for r in bundle_resources(bundle)] == ["a1"]
    assert bundle_resources(None) == ()


def test_starting_within_keeps_only_sessions_inside_the_horizon() -> None:
    soon = appointment("soon", start=(NOW + timedelta(days=2)).isoformat())
    far = appointment("far", start=(NOW + timedelta(days=20)).isoformat())
    dated = appointment("dated", start=(NOW + timedelta(days=6)).date().isoformat())
    kept = starting_within(_sessions(soon, far, dated), NOW, timedelta(0), timedelta(days=7))
    assert [s.reference for s in kept] == ["Appointment/soon", "Appointment/dated"]


def test_upcoming_drops_sessions_that_are_over() -> None:
    past = appointment("past", start="2026-11-29T15:00:00Z", end="2026-11-29T16:00:00Z")
    today = appointment("today", start=NOW.date().isoformat(), end=None)
    kept = upcoming(_sessions(past, today, appointment()), NOW)
    assert [s.reference for s in kept] == ["Appointment/today", "Appointment/a1"]


def test_session_trigger_is_the_first_session_carrying_the_series() -> None:
    sessions = _sessions(appointment("b", start="2026-12-08T15:00:00Z"), appointment("a"))
    trigger = session_trigger(sessions)
    assert (trigger.reference, trigger.resource_type) == ("Appointment/a", "Appointment")
    assert trigger.display == "Ketamine IV infusion"
    assert trigger.moments == sessions
