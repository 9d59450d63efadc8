"""Markdown for a card's detail: matching medications, hold window, dose, evidence. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cds_service.clinical.types import MedicationFact, as_aware
from cds_service.rules.findings import (
    CombinationAlert,
    DoseAssessment,
    Finding,
    HoldWindow,
    Match,
    held_matches,
)
from cds_service.rules.schema import RuleSpec


def zone(name: str) -> tzinfo:
    """The IANA zone for clock times shown on cards; UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def hours(value: float) -> str:
    """12.0 -> "12", 1.5 -> "1.5"."""
    return f"{value:g}"


def join_names(names: list[str], limit: int = 2) -> str:
    """Names joined for a sentence: "a", "a and b", "a, b +1" beyond ``limit``."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2 and limit >= 2:
        return f"{names[0]} and {names[1]}"
    shown = max(limit, 1)
    return f"{', '.join(names[:shown])} +{len(names) - shown}"


def cell(text: str) -> str:
    """Text made safe for one markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def detail_markdown(finding: Finding, drugs: str, now: datetime | None, tz: tzinfo) -> str:
    """The whole detail of one class card, most important first."""
    rule = finding.rule
    parts = [f"**{rule.title}** (evidence grade {rule.evidence.grade})"]
    if rule.do_not_stop:
        parts.append(f"> **Important:** {rule.do_not_stop.strip()}")
    parts.extend(combination_paragraph(alert) for alert in finding.alerts)
    parts.append(medication_table(finding.matches, now, rule.washout_days))
    parts.append(f"**Recommendation**\n\n{rule.recommendation.strip()}")
    if finding.hold is not None:
        held = {m.member.name: None for m in held_matches(rule, finding.matches)}
        sentence = hold_sentence(finding.hold, join_names(list(held)), tz)
        parts.append(f"**Hold window** (if clinically safe): {sentence}")
    if finding.dose is not None:
        parts.append(dose_paragraph(finding.dose))
    parts.extend(_member_notes(finding.matches))
    if rule.monitoring:
        parts.append(f"**Monitoring**: {rule.monitoring.strip()}")
    parts.append(evidence_paragraph(rule))
    parts.append("_Advisory only: decisions stay with the prescriber._")
    return "\n\n".join(parts)


def combination_paragraph(alert: CombinationAlert) -> str:
    """The combined-risk warning: which kinds of drug the patient takes together, and what to do."""
    combination = alert.combination
    kinds = [f"{' and '.join(names)} ({group})" for group, names in alert.present]
    together = f"{', '.join(kinds[:-1])} and {kinds[-1]}" if len(kinds) > 1 else "".join(kinds)
    links = ", ".join(f"[{ref.citation}]({ref.url})" for ref in combination.evidence.references)
    return (
        f"> **{combination.title}:** the patient takes {together}. {combination.advice.strip()} "
        f"(evidence grade {combination.evidence.grade}: {links})"
    )


def medication_table(matches: tuple[Match, ...], now: datetime | None, washout_days: int) -> str:
    """The patient's matching medications and where each record came from."""
    rows = [
        "**The patient's matching medications**",
        "",
        "| Medication | Dose | As needed | Status | Source |",
        "|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for match in matches:
        if match.fact.reference in seen:
            continue
        seen.add(match.fact.reference)
        rows.append(_medication_row(match, now, washout_days))
    return "\n".join(rows)


def _medication_row(match: Match, now: datetime | None, washout_days: int) -> str:
    fact = match.fact
    status = fact.status or "unknown"
    if match.within_washout:
        status = washout_text(fact, now, washout_days)
    prn = "yes" if fact.as_needed else "no"
    cells = [fact.display, fact.dose_text or "not recorded", prn, status, source_text(fact)]
    return "| " + " | ".join(cell(text) for text in cells) + " |"


def washout_text(fact: MedicationFact, now: datetime | None, washout_days: int) -> str:
    """ "stopped 2 days ago (within the 3-day washout)", or the date when ``now`` is not given."""
    window = f"within the {washout_days}-day washout"
    last = fact.ended or fact.started
    if last is None or now is None:
        when = f"on {_date(last)}" if last else "recently"
        return f"stopped {when} ({window})"
    days = max((as_aware(now) - as_aware(last)).days, 0)
    return f"stopped {days} day{'s' if days != 1 else ''} ago ({window})"


def source_text(fact: MedicationFact) -> str:
    """Origin and key ("prefetch medicationStatements"), flagged when the patient reported it."""
    text = f"{fact.origin.value} ({fact.source_key}), {fact.reference}"
    return f"{text}; reported by patient" if fact.reported else text


def hold_sentence(hold: HoldWindow, drugs: str, tz: tzinfo) -> str:
    """Clock times when the start is known ("No clonazepam from 21:00 on 26 Nov ..."), else relative."""
    what = f"as-needed {drugs}" if hold.as_needed_only else drugs
    before = hours(hold.before_hours)
    if hold.hold_from is None:
        text = f"no dose of {what} within {before} h before the infusion start"
        if hold.resume_after_hours is None:
            return f"{text}; resume once recovered."
        resume = hours(hold.resume_after_hours)
        return f"{text}; resume {resume} h after the infusion starts, once recovered."
    start = hold.hold_from + timedelta(hours=hold.before_hours)
    local_start = start.astimezone(tz)
    text = (
        f"No {what} from {_clock(hold.hold_from, tz, local_start)} "
        f"({before} h before the {local_start:%H:%M} start on {_date(local_start)})"
    )
    if hold.resume_after is not None:
        text += f"; resume after {_clock(hold.resume_after, tz, local_start)}, once recovered"
    else:
        text += "; resume once recovered"
    return f"{text} ({_zone_name(local_start)})."


def _clock(moment: datetime, tz: tzinfo, reference: datetime) -> str:
    local = moment.astimezone(tz)
    if local.date() == reference.date():
        return f"{local:%H:%M}"
    return f"{local:%H:%M} on {_date(local)}"


def _date(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def _zone_name(moment: datetime) -> str:
    return moment.tzname() or "local time"


def dose_paragraph(dose: DoseAssessment) -> str:
    """Daily diazepam equivalents and duration, or a plain "not estimated"."""
    if dose.diazepam_eq_mg_per_day is None:
        amount = "dose unknown: not estimated (the dosage is not coded well enough to compute)"
    else:
        level = "above" if dose.high_dose else "at or below"
        amount = (
            f"about {dose.diazepam_eq_mg_per_day:g} mg/day diazepam-equivalent ({level} the "
            f"{dose.high_dose_mg_per_day:g} mg/day level where a blunted response was reported)"
        )
    days = dose.longest_days_taken
    duration = f"taken for {_duration(days)}" if days is not None else "duration unknown"
    use = "as needed only" if dose.all_as_needed else "regular use"
    if dose.regular_daily_use:
        use = f"regular daily use for {dose.regular_use_days}+ days: the antidepressant response may be blunted"
    table = f"[{dose.equivalence_table.strip()}]({dose.equivalence_url})"
    return f"**Dose**: {amount}; {duration}; {use}. Equivalence: {table}."


def _duration(days: int) -> str:
    if days >= 730:
        return f"about {days // 365} years"
    return f"{days} day{'s' if days != 1 else ''}"


def _member_notes(matches: tuple[Match, ...]) -> list[str]:
    notes: dict[str, str] = {}
    for match in matches:
        if match.member.note:
            notes.setdefault(match.member.name, match.member.note.strip())
    return [f"**{name}**: {note}" for name, note in notes.items()]


def evidence_paragraph(rule: RuleSpec) -> str:
    """Grade, summary and numbered reference links."""
    refs = "\n".join(f"- [{ref.citation}]({ref.url})" for ref in rule.evidence.references)
    return f"**Evidence (grade {rule.evidence.grade})**: {rule.evidence.summary.strip()}\n\n{refs}"
