"""A card's one-line summary: the class's template for this variant, naming the patient's drugs. Pure."""

from __future__ import annotations

from cds_service.render.wording import hours, join_names
from cds_service.rules.findings import CombinationAlert, Finding, Match
from cds_service.rules.schema import RuleSpec

SUMMARY_MAX = 139
RECENTLY_STOPPED = "Recently stopped {drugs} may still interact with ketamine: review"


def drug_names(finding: Finding, limit: int = 2) -> str:
    """The drugs a summary names: current ones ("clonazepam and lorazepam"), else the stopped ones."""
    return join_names(_named(finding), limit)


def _named(finding: Finding) -> list[str]:
    """The current drugs (else the stopped ones); a street drug beside a prescribed one is left to
    its own tag: "Hold amphetamine ... (morning dose)" must never name cocaine."""
    current = finding.current_matches or finding.matches
    if not finding.substance_only:
        current = tuple(m for m in current if not m.member.substance) or current
    probable = {member_label(m) for m in current if m.fact.probable}
    exact = {member_label(m) for m in current if not m.fact.probable}
    # A name read only through a misspelling says so on the summary too: the hold rests on a guess.
    return list(
        dict.fromkeys(
            f"{name} (probable)" if name in probable - exact else name
            for name in (member_label(match) for match in current)
        )
    )


def _substance_tag(finding: Finding) -> list[str]:
    """ "ask about recent cocaine use" when a street drug sits beside a prescribed member."""
    if finding.substance_only:
        return []
    names = [member_label(m) for m in finding.current_matches if m.member.substance]
    if not names or len(names) == len(finding.current_matches):
        return []
    return [f"ask about recent {join_names(list(dict.fromkeys(names)), 1)} use"]


def member_label(match: Match) -> str:
    """How a summary names the member: its label ("alcohol" for ethanol), else its name."""
    return match.member.label or match.member.name


def summary_text(finding: Finding, drugs: str) -> str:
    """The class's summary template for this variant, filled and kept under 140 characters.

    A combination the card takes part in (the combined respiratory risk) is added to the line:
    after the class's summary when both fit, else before it, so the combined risk is never cut.
    """
    template = _template(finding.rule, finding)
    text = _with_tags(_fill(template, drugs, finding), _substance_tag(finding))
    tags = [_combination_tag(finding, alert) for alert in finding.alerts]
    if len(text) > SUMMARY_MAX or (tags and len(_with_tags(text, tags)) > SUMMARY_MAX):
        one = _fill(template, join_names(_named(finding), 1), finding)
        text = _with_tags(one, _substance_tag(finding))
    return with_combinations(finding, text)


def with_combinations(finding: Finding, text: str) -> str:
    """``text`` with the combinations the card takes part in, kept under 140 characters; when both
    do not fit the combined risk leads, so it is never the part cut."""
    tags = [_combination_tag(finding, alert) for alert in finding.alerts]
    if not tags:
        return fit_clauses(text, SUMMARY_MAX)
    combined = _with_tags(text, tags)
    if len(combined) <= SUMMARY_MAX:
        return combined
    lead = "; ".join(tags)
    return fit_clauses(f"{lead[:1].upper()}{lead[1:]}. {text}", SUMMARY_MAX)


def _with_tags(text: str, tags: list[str]) -> str:
    return "; ".join([text, *tags])


def _combination_tag(finding: Finding, alert: CombinationAlert) -> str:
    template = alert.combination.summary
    if not template:
        return alert.combination.title.lower()
    own = {member_label(match) for match in finding.current_matches}
    others = [name for _, names in alert.present for name in names if name not in own]
    return template.replace("{others}", join_names(list(dict.fromkeys(others)), 1))


def _template(rule: RuleSpec, finding: Finding) -> str:
    summaries = rule.summary
    for circumstance in finding.circumstances:  # the patient's condition leads (epilepsy: no hold)
        if circumstance.modifier.summary and finding.current_matches:
            return circumstance.modifier.summary.replace("{condition}", circumstance.condition)
    if not finding.current_matches:
        if finding.withdrawal and rule.withdrawal is not None:
            return rule.withdrawal.summary
        return summaries.washout or RECENTLY_STOPPED
    chosen = {"light": summaries.light, "strong": summaries.strong}.get(finding.variant)
    if finding.substance_only and summaries.substance:
        heavy = any(match.fact.heavy_use for match in finding.current_matches)
        chosen = (summaries.heavy_use if heavy else None) or summaries.substance
    template = chosen or summaries.default
    # A site may remove the hold; a template that promises one would then be wrong.
    if "{hold_hours}" in template and hold_hours(finding) is None:
        return "Review {drugs} before the ketamine infusion: " + rule.title.lower()
    return template


def hold_hours(finding: Finding) -> float | None:
    """The hold's hours before the infusion (an as-needed-only hold still names them), else None."""
    hold = finding.hold or finding.rule.hold
    return hold.before_hours if hold is not None and hold.before_hours > 0 else None


def _fill(template: str, drugs: str, finding: Finding) -> str:
    before = hold_hours(finding)
    text = template.replace("{drugs}", drugs)
    text = text.replace("{hold_hours}", hours(before) if before is not None else "")
    return text[:1].upper() + text[1:]


# A clause that says what not to do, or to hold or defer, is never the one left out of a summary.
_KEPT_CLAUSE_WORDS = ("do not", "never", "defer", "hold", "stop")


def fit_clauses(text: str, limit: int) -> str:
    """At most ``limit`` characters: whole "; " clauses left out from the end first (the detail has
    them), never a clause with a "do not", "never", hold or defer; cut with an ellipsis only if that
    is still too long."""
    clauses = " ".join(text.split()).split("; ")
    while len("; ".join(clauses)) > limit:
        droppable = [
            i
            for i, clause in enumerate(clauses)
            if i > 0 and not any(word in clause.lower() for word in _KEPT_CLAUSE_WORDS)
        ]
        if not droppable:
            break
        del clauses[droppable[-1]]
    return truncate("; ".join(clauses), limit)


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"
