"""Holds across one response: the note each hold adds to the ketamine order, and the one update that
carries all of them (an update replaces the resource, so one per card would erase the others). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.clinical.types import KetamineOrder
from cds_service.render.profiles import Profile
from cds_service.render.sessions import one_session_sentence
from cds_service.render.suggestions import HoldUpdate, hold_update
from cds_service.render.wording import CardTime, join_names
from cds_service.rules.findings import Finding


def hold_note(finding: Finding, time: CardTime) -> str | None:
    """The note a hold adds to the ketamine order, or None when the class has no hold here (the
    card's own suggestion and the shared update both carry it; its sentence is worked out once)."""
    if finding.hold is None:
        return None
    return f"Ketamine infusion, if clinically safe: {one_session_sentence(finding, time)}"


def _offers_hold(finding: Finding) -> bool:
    return finding.hold is not None and any(
        spec.kind == "add-hold-instruction" for spec in finding.rule.suggestions
    )


def shared_hold(
    findings: Sequence[Finding], order: KetamineOrder, time: CardTime, profile: Profile
) -> HoldUpdate | None:
    """spec: the one update of the draft carrying the note of every hold offered in the response."""
    if profile.hold_as != "update" or order.resource_type == "Appointment":
        return None  # an appointment's holds reach the patient through patientInstruction
    holding = [finding for finding in findings if _offers_hold(finding)]
    notes = [note for note in (hold_note(f, time) for f in holding) if note]
    names = [match.member.name for f in holding for match in f.held]
    return hold_update(order, notes, join_names(list(dict.fromkeys(names))))
