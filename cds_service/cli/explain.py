"""``evaluate --explain``: the engine's trace of one request, printed for a pharmacist (or ``--json``).

Every string goes through the request's ``Redactor``: no patient id, user, encounter or token is
ever printed, whatever a record's free text holds.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from cds_service.rules.explain import EvaluationTrace, RecordTrace
from cds_service.service.explain import Explanation, Redactor


def explanation_json(explanation: Explanation, scrub: Redactor) -> dict[str, Any]:
    """The trace and the cards as one JSON object."""
    trace = dataclasses.asdict(explanation.trace) if explanation.trace is not None else None
    body = {
        "notes": list(explanation.notes),
        "trace": trace,
        "cards": [card.model_dump(mode="json", exclude_none=True) for card in explanation.cards],
        "folded": {topic: list(also) for topic, also in explanation.folded},
    }
    scrubbed: dict[str, Any] = _scrubbed(body, scrub)
    return scrubbed


def explanation_text(explanation: Explanation, scrub: Redactor) -> str:
    """The trace as a person reads it: records, then the cards with the rule behind each."""
    lines = [*explanation.notes]
    if explanation.trace is not None:
        lines += _trace_lines(explanation.trace)
    lines.append(f"Cards ({len(explanation.cards)}):")
    rules = _rules(explanation.trace)
    for topic, also in explanation.folded:
        rules[topic] = f"{rules.get(topic, topic)}; with the reasons of {', '.join(also)} folded in"
    for number, card in enumerate(explanation.cards, start=1):
        topic = card.source.topic.code if card.source.topic else "-"
        lines.append(f"  {number}. [{card.indicator}] {card.summary}")
        lines.append(f"     produced by {rules.get(topic, topic)}")
    return "\n".join(scrub.text(line) for line in lines)


def _trace_lines(trace: EvaluationTrace) -> list[str]:
    lines = [f"Medication records ({len(trace.records)}):"]
    for record in trace.records:
        lines += _record_lines(record)
    for failure in trace.failures:
        lines.append(f"Rule failed: {failure}")
    shadow = [f"{f.topic} v{f.rule_version} ({f.indicator})" for f in trace.findings if f.shadow]
    if shadow:
        lines.append(f"Shadow rules that would have fired (never sent): {', '.join(shadow)}")
    return lines


def _record_lines(record: RecordTrace) -> list[str]:
    head = f"  #{record.position} {record.resource_type}: {record.display or '(no text)'}"
    if record.match is None:
        return [head, f"     ignored: {record.outcome}"]
    read = [
        f"ingredients {', '.join(record.ingredients)} ({record.match} match)",
        f"status {record.status or '(none)'}",
        f"dose {record.dose or 'not recorded'}",
        "as needed" if record.as_needed else "scheduled",
    ]
    dates = [
        f"{label} {_day(when)}"
        for label, when in (("from", record.started), ("to", record.ended))
        if when
    ]
    lines = [head, f"     read as: {'; '.join(read + dates)}"]
    for check in record.classes:
        verdict = "counted" if check.counted else "ignored"
        shadow = " (shadow rule)" if check.shadow else ""
        lines.append(f"     {check.topic}{shadow}: {verdict}: {check.reason}")
    return lines


def _rules(trace: EvaluationTrace | None) -> dict[str, str]:
    found = {"DATAGAP": "the data-gap check (what could not be checked or recognised)"}
    if trace is None:
        return found
    for finding in trace.findings:
        if finding.shadow:
            continue
        records = ", ".join(f"#{p}" for p in finding.records)
        found[finding.topic] = (
            f"rule {finding.topic} v{finding.rule_version} ({finding.variant} wording) from {records}"
        )
    return found


def _day(moment: datetime) -> str:
    return moment.isoformat()


def _scrubbed(value: Any, scrub: Redactor) -> Any:
    if isinstance(value, str):
        return scrub.text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_scrubbed(item, scrub) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, scrub) for key, item in value.items()}
    return value
