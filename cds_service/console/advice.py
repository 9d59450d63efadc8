"""Which rule versions are overridden so often that they should change, and what the data suggests.

A rule version is flagged when, over at least ``min_cards`` cards with feedback, its override rate is
at least ``override_rate``. The advice follows what the overriding clinicians said, by the kind of
reason most given (each code is placed in one kind below):

- the card did not apply (not taking it, already ordered, ineligible): **tighten the members** (or
  the washout) so it fires only on records that matter;
- the hold was already met (dose held, none due): **tighten the hold** so it fires only when a dose
  falls inside the window;
- the clinician weighed it and went on (risk/benefit, prescriber aware, no reason): **demote to
  info**; a card already at info that is still set aside: **retire** it;
- the clinician disputes the evidence: **retire** it after a review of the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cds_service.store.analytics import ReasonCount

SCOPE, HOLD, JUDGEMENT, EVIDENCE = "scope", "hold", "judgement", "evidence"
KIND_OF_REASON: Mapping[str, str] = {
    # HL7 non-adherence-reason-codes
    "cds-not-applicable": SCOPE,
    "patient-ineligible": SCOPE,
    "indication-order-exists": SCOPE,
    "action-not-priority": SCOPE,
    "action-completed": HOLD,
    "recipient-disagrees-evidence": EVIDENCE,
    "does-not-align-latest-evidence": EVIDENCE,
    "expert-contradicts": EVIDENCE,
    "policy-contradicts": EVIDENCE,
    "recipient-does-not-trust": EVIDENCE,
    # ours (cards/rules/*.yaml override_reasons without an HL7 system)
    "dose-not-due": HOLD,
    "patient-interviewed": SCOPE,
    "data-available-elsewhere": SCOPE,
}
ADVICE: Mapping[str, str] = {
    SCOPE: "Tighten the members (or the washout): most overrides say the card did not apply.",
    HOLD: "Tighten the hold: most overrides say the dose was already held or none was due.",
    JUDGEMENT: "Demote to info: clinicians read it and judged the risk acceptable.",
    EVIDENCE: "Retire it after a review of the evidence: clinicians dispute what it rests on.",
}
RETIRE_INFO = (
    "Retire it (or tighten the members): it is already info and still set aside almost every time."
)


@dataclass(frozen=True, slots=True)
class FlagPolicy:
    """``CDS_CONSOLE_FLAG_OVERRIDE_RATE`` over at least ``CDS_CONSOLE_FLAG_MIN_CARDS`` cards."""

    override_rate: float = 0.9
    min_cards: int = 50


@dataclass(frozen=True, slots=True)
class Flag:
    """Why a rule version is flagged, and what to do about it."""

    advice: str
    kind: str  # the kind of reason most given
    override_rate: float
    cards: int  # cards with feedback the rate is over


def flag_for(
    overridden: int,
    with_feedback: int,
    indicator: str,
    reasons: Sequence[ReasonCount],
    policy: FlagPolicy,
) -> Flag | None:
    """The flag of one rule version, or None when it is not overridden often enough."""
    if with_feedback < policy.min_cards or overridden / with_feedback < policy.override_rate:
        return None
    kind = dominant_kind(reasons)
    advice = RETIRE_INFO if kind == JUDGEMENT and indicator == "info" else ADVICE[kind]
    return Flag(
        advice=advice, kind=kind, override_rate=overridden / with_feedback, cards=with_feedback
    )


def dominant_kind(reasons: Sequence[ReasonCount]) -> str:
    """The kind of reason given for most overridden cards (judgement when none stands out)."""
    totals: dict[str, int] = {}
    for reason in reasons:
        kind = KIND_OF_REASON.get(reason.code or "", JUDGEMENT)
        totals[kind] = totals.get(kind, 0) + reason.cards
    if not totals:
        return JUDGEMENT
    # Ties go to the gentler change: judgement, then hold, then scope, then evidence.
    order = (JUDGEMENT, HOLD, SCOPE, EVIDENCE)
    return max(order, key=lambda kind: (totals.get(kind, 0), -order.index(kind)))
