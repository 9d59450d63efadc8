"""The default (concise) and brief forms of a card's detail: what a prescriber reads in ten seconds.

Concise (the default, about 700 characters for one drug): the patient's drug with its dose, where the
record came from and for how long; the hold with its dates; the rule's one or two actions; the
never-stop-abruptly line where the class has one; the evidence grade in a few words. Brief (the
Oracle Health sidebar, about an eighth of the screen wide): the same facts in a few short lines.
References stay in the card's ``links``. Pure.
"""

from __future__ import annotations

import re

from cds_service.render.detail import (
    circumstance_lines,
    important_texts,
    member_notes,
    stopped_text,
    unchecked_line,
    withdrawal_line,
)
from cds_service.render.dose import dose_line
from cds_service.render.sessions import hold_text
from cds_service.render.wording import (
    CardTime,
    depot_text,
    duration_words,
    source_words,
)
from cds_service.rules.findings import CombinationAlert, Finding, Match
from cds_service.rules.schema import Modifier, RuleSpec

MAX_RECORDS = 3
# What each grade rests on (CLINICAL.md conventions), in the few words a card has room for.
GRADE_WORDS = {
    "A": "drug label or FDA",
    "B": "human studies",
    "C": "observational data",
    "D": "case reports or practice",
}
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")


def concise_detail(finding: Finding, time: CardTime) -> str:
    """The default detail: short paragraphs, most important first."""
    rule = finding.rule
    parts = [*circumstance_lines(finding), *(_combination_line(a) for a in finding.alerts)]
    withdrawal = withdrawal_line(finding)
    if withdrawal:
        parts.append(withdrawal)
    parts.append("\n".join(_record_lines(finding, time)))
    if finding.dose is not None:
        parts.append(dose_line(finding.dose))
    if finding.hold is not None:
        sentence = hold_text(finding, time)
        parts.append(f"**Hold if clinically safe**: {sentence}")
    # A combination's advice is itself the first action: the class then adds only its first one.
    actions = finding_actions(finding)[: 1 if finding.alerts else 2]
    if actions:
        parts.append("\n".join(f"- {action}" for action in actions))
    important = important_texts(finding)
    if important:
        parts.append(f"**Important:** {' '.join(important)}")
    parts.extend(member_notes(finding.matches))
    parts.extend(unchecked_line(finding))
    parts.append(
        f"_Evidence grade {rule.evidence.grade} ({GRADE_WORDS[rule.evidence.grade]}); advisory only._"
    )
    return "\n\n".join(parts)


def brief_detail(finding: Finding, time: CardTime) -> str:
    """A few lines for a narrow sidebar: the drugs, the hold, the one line not to miss, the grade."""
    rule = finding.rule
    lines = [_circumstance_brief(c.modifier) for c in finding.circumstances]
    lines += [_brief_record(finding, match, time) for match in _distinct(finding.matches)]
    if finding.hold is not None:
        lines.append(hold_text(finding, time))
    actions = finding_actions(finding)
    if actions:
        lines.append(actions[0])
    lines.extend(first_clause(text) for text in important_texts(finding))
    lines.extend(unchecked_line(finding))
    lines.append(f"Evidence grade {rule.evidence.grade}.")
    # A condition's wording may be the action itself ("Do not hold it; ..."): say each line once.
    return "\n\n".join(dict.fromkeys(lines))


def finding_actions(finding: Finding) -> tuple[str, ...]:
    """The actions for this card: the washout ones once every record has stopped, the as-needed
    ones when every record is as needed, else the rule's."""
    if not finding.current_matches:
        return finding.rule.washout_actions
    for circumstance in finding.circumstances:
        if circumstance.modifier.actions:
            return circumstance.modifier.actions
    if finding.substance_only and finding.rule.substance_actions:
        return finding.rule.substance_actions
    light = finding.rule.light_actions
    if finding.variant == "light" and light is not None:
        return light
    return rule_actions(finding.rule)


def rule_actions(rule: RuleSpec) -> tuple[str, ...]:
    """The rule's one or two actions; without them, the first bullets of its recommendation."""
    if rule.actions:
        return rule.actions
    bullets = [
        m.group(1) for line in rule.recommendation.splitlines() if (m := _BULLET.match(line))
    ]
    return tuple(bullets[:2])


def _circumstance_brief(modifier: Modifier) -> str:
    return modifier.actions[0] if modifier.actions else first_clause(modifier.note)


def first_clause(text: str) -> str:
    """ "Do not stop a regularly taken benzodiazepine abruptly." from the whole safety paragraph."""
    clause = re.split(r"[:;]\s|\.\s", text.strip(), maxsplit=1)[0].rstrip(".")
    return f"{clause}."


def _combination_line(alert: CombinationAlert) -> str:
    names = [name for _, group in alert.present for name in group]
    taken = f"{', '.join(names[:-1])} with {names[-1]}" if len(names) > 1 else "".join(names)
    return f"> **{alert.combination.title}** ({taken}): {advice_action(alert.combination.advice)}"


def advice_action(advice: str) -> str:
    """What to do, from a combination's advice: the part after its "why:" lead-in when it has one.

    The title already says why ("Combined respiratory depression"): "Together they add to ketamine's
    sedation...: monitor SpO2 continuously" becomes "Monitor SpO2 continuously".
    """
    text = advice.strip()
    _, colon, action = text.partition(": ")
    if not colon or not action:
        return text
    return action[:1].upper() + action[1:]


def _distinct(matches: tuple[Match, ...]) -> list[Match]:
    seen: dict[str, Match] = {}
    for match in matches:
        seen.setdefault(match.fact.reference, match)
    return list(seen.values())


def _record_lines(finding: Finding, time: CardTime) -> list[str]:
    records = _distinct(finding.matches)
    lines = [_record_line(finding, match, time) for match in records[:MAX_RECORDS]]
    if len(records) > MAX_RECORDS:
        lines.append(f"+{len(records) - MAX_RECORDS} more records of this class.")
    return lines


def _record_line(finding: Finding, match: Match, time: CardTime) -> str:
    fact = match.fact
    facts = [fact.dose_text or "dose not recorded", source_words(fact)]
    if fact.depot_days:
        facts = [*facts[: 1 if fact.dose_text else 0], facts[-1]]
        facts.append(depot_text(fact, time.start, time.now))
    elif match.within_washout:
        facts.append(stopped_text(finding, match, time))
    elif match.days_taken is not None:
        facts.append(f"for {duration_words(match.days_taken)}")
    return f"**{fact.display}**: {'; '.join(facts)}."


def _brief_record(finding: Finding, match: Match, time: CardTime) -> str:
    fact = match.fact
    when = ""
    if fact.depot_days:
        when = f", {depot_text(fact, time.start, time.now)}"
    elif match.within_washout:
        when = f", {stopped_text(finding, match, time)}"
    return f"{fact.display} ({source_words(fact)}{when})."
