"""The full form of a card's detail (``CDS_CARD_DETAIL=full``): everything the rule says. Pure.

References are never written into the detail as markdown links: they are the card's ``links`` (a
link in the detail navigates the host page away, losing the order, and shows every reference twice).
"""

from __future__ import annotations

from cds_service.render.dose import dose_paragraph
from cds_service.render.sessions import hold_text
from cds_service.render.wording import (
    CardTime,
    depot_text,
    duration_words,
    source_words,
    washout_text,
)
from cds_service.rules.findings import (
    CombinationAlert,
    Finding,
    Match,
)
from cds_service.rules.schema import Evidence


def cell(text: str) -> str:
    """Text made safe for one markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def full_detail(finding: Finding, time: CardTime) -> str:
    """The whole detail of one class card, most important first."""
    rule = finding.rule
    parts = [f"**{rule.title}** (evidence grade {rule.evidence.grade})"]
    parts.extend(circumstance_lines(finding))
    parts.extend(f"> **Important:** {text}" for text in important_texts(finding))
    parts.extend(combination_paragraph(alert) for alert in finding.alerts)
    parts.append(medication_table(finding, time))
    if not finding.current_matches:
        parts.append(stopped_paragraph(finding))
    parts.append(f"**Recommendation**\n\n{rule.recommendation.strip()}")
    if finding.hold is not None:
        sentence = hold_text(finding, time)
        parts.append(f"**Hold window** (if clinically safe): {sentence}")
    if finding.dose is not None:
        parts.append(dose_paragraph(finding.dose))
    withdrawal = withdrawal_line(finding)
    if withdrawal:
        parts.insert(1, withdrawal)
    parts.extend(member_notes(finding.matches))
    if rule.monitoring:
        parts.append(f"**Monitoring**: {rule.monitoring.strip()}")
    parts.extend(unchecked_line(finding))
    parts.append(evidence_paragraph(rule.evidence))
    parts.append("_Advisory only: decisions stay with the prescriber._")
    return "\n\n".join(parts)


def together(alert: CombinationAlert) -> str:
    """ "lorazepam (benzodiazepine) and oxycodone (opioid)": the kinds of drug taken together."""
    kinds = [f"{' and '.join(names)} ({group})" for group, names in alert.present]
    return f"{', '.join(kinds[:-1])} and {kinds[-1]}" if len(kinds) > 1 else "".join(kinds)


def combination_paragraph(alert: CombinationAlert) -> str:
    """The combined-risk warning: which kinds of drug the patient takes together, and what to do."""
    combination = alert.combination
    return (
        f"> **{combination.title}:** the patient takes {together(alert)}. "
        f"{combination.advice.strip()} (evidence grade {combination.evidence.grade})"
    )


def medication_table(finding: Finding, time: CardTime) -> str:
    """The patient's matching medications and, in a clinician's words, where each record came from."""
    rows = [
        "**The patient's matching medications**",
        "",
        "| Medication | Dose | As needed | Status | Source |",
        "|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for match in finding.matches:
        if match.fact.reference in seen:
            continue
        seen.add(match.fact.reference)
        rows.append(_medication_row(finding, match, time))
    return "\n".join(rows)


def _medication_row(finding: Finding, match: Match, time: CardTime) -> str:
    fact = match.fact
    status = fact.status or "unknown"
    if fact.depot_days:
        status = depot_text(fact, time.start, time.now)
    elif match.within_washout:
        status = stopped_text(finding, match, time)
    prn = "yes" if fact.as_needed else "no"
    cells = [fact.display, fact.dose_text or "not recorded", prn, status, source_words(fact)]
    return "| " + " | ".join(cell(text) for text in cells) + " |"


def stopped_paragraph(finding: Finding) -> str:
    """Every record has stopped but may still act: the washout actions come before the class's
    recommendation, which is written for a drug still being taken."""
    rule = finding.rule
    lines = [
        f"**Stopped within the {rule.washout_days}-day washout**: the drug may still act; the "
        "recommendation below is written for a drug still being taken."
    ]
    lines += [f"- {action}" for action in rule.washout_actions]
    return "\n".join(lines)


def stopped_text(finding: Finding, match: Match, time: CardTime) -> str:
    """How a stopped record is described: its washout, or its withdrawal window after long use."""
    rule, fact = finding.rule, match.fact
    if match.withdrawal and rule.withdrawal is not None:
        taken = f" after {duration_words(match.days_taken)}" if match.days_taken else ""
        days = rule.withdrawal.within_days
        text = washout_text(fact, time.start, time.now, days, "withdrawal window")
        return text.replace(" (within", f"{taken} (within", 1)
    return washout_text(fact, time.start, time.now, rule.washout_days)


def withdrawal_line(finding: Finding) -> str | None:
    """The withdrawal warning when a record was stopped after long regular use."""
    risk = finding.rule.withdrawal
    if risk is None or not finding.withdrawal:
        return None
    return f"**Withdrawal risk:** {risk.note.strip()}"


def important_texts(finding: Finding) -> list[str]:
    """The never-stop-abruptly wording that applies: the class's, then each current member's own.

    Only for drugs the patient takes now: a drug already stopped has nothing left to stop.
    """
    current = finding.current_matches
    if not current:
        return []
    texts = [finding.rule.do_not_stop.strip()] if finding.rule.do_not_stop else []
    for match in current:
        text = match.member.do_not_stop
        if text and text.strip() not in texts:
            texts.append(text.strip())
    return texts


def circumstance_lines(finding: Finding) -> list[str]:
    """What the patient's conditions changed ("**Taken for epilepsy** (...): do not hold ...")."""
    return [f"**{c.heading}**: {' '.join(c.modifier.note.split())}" for c in finding.circumstances]


def unchecked_line(finding: Finding) -> list[str]:
    """What could not be checked for this card (the patient's Conditions, blood pressure)."""
    if not finding.unchecked:
        return []
    return [f"_Not checked, may change this card_: {'; '.join(finding.unchecked)}."]


def member_notes(matches: tuple[Match, ...]) -> list[str]:
    """Member-specific advice ("Never hold methadone prescribed for OUD"), once per member."""
    notes: dict[str, str] = {}
    for match in matches:
        if match.member.note:
            name = match.member.label or match.member.name
            notes.setdefault(name, " ".join(match.member.note.split()))
    return [f"**{name}**: {note}" for name, note in notes.items()]


def evidence_paragraph(evidence: Evidence) -> str:
    """The grade and its summary, the grade said once even when the summary starts with it."""
    summary = evidence.summary.strip()
    if summary.lower().startswith(f"grade {evidence.grade.lower()}"):
        return f"**Evidence**: {summary}"
    return f"**Evidence (grade {evidence.grade})**: {summary}"
