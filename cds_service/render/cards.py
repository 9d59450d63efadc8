"""Findings to CDS Hooks cards: summary, indicator, detail, source, links, suggestions. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from uuid import uuid4

from cds_service.cdshooks.models import Card, Coding, Link, Source, Suggestion
from cds_service.clinical.types import DataGap, KetamineOrder
from cds_service.render.detail import detail_markdown, hold_sentence, hours, join_names, zone
from cds_service.render.suggestions import SuggestionContext, build_suggestion
from cds_service.rules.findings import SEVERITY, Evaluation, Finding, held_matches
from cds_service.rules.knowledge import CompiledKnowledgeBase, KnowledgeBase
from cds_service.rules.schema import RuleSpec

SUMMARY_MAX = 139
HOLD_WINDOWS_KEY = "ketamineCds.holdWindows"
DATAGAP_TOPIC = "DATAGAP"


def _new_uuid() -> str:
    return str(uuid4())


@dataclass(frozen=True)
class RenderOptions:
    """Presentation settings for one response (from Settings and the knowledge-base manifest)."""

    source_label: str
    source_url: str | None
    topic_system: str
    override_reason_system: str
    selection_behavior: Literal["at-most-one", "any"] = "at-most-one"
    # IANA name for the clock times shown; None shows them in the offset the infusion start was given in.
    timezone: str | None = None
    new_uuid: Callable[[], str] = field(default=_new_uuid)

    @classmethod
    def for_knowledge_base(cls, kb: KnowledgeBase, **changes: Any) -> RenderOptions:
        """Options from the manifest's label, url and systems; ``changes`` win."""
        manifest = kb.manifest
        values: dict[str, Any] = {
            "source_label": manifest.source_label,
            "source_url": str(manifest.source_url) if manifest.source_url else None,
            "topic_system": manifest.topic_system,
            "override_reason_system": manifest.override_reason_system,
        }
        return cls(**(values | changes))


@dataclass(frozen=True, slots=True)
class CallContext:
    """What one hook call adds to the static options: whose cards, and when."""

    patient_id: str
    now: datetime | None = None  # evaluation time, for "stopped 2 days ago"


@dataclass(frozen=True, slots=True)
class RuleParts:
    """The parts of a rule's card that depend only on the knowledge base and the site's options."""

    source: Source
    override_reasons: tuple[Coding, ...]
    links: tuple[Link, ...]


class CardRenderer:
    """Renders findings as cards; the static parts of every rule's card are built once, here."""

    def __init__(self, kb: CompiledKnowledgeBase, options: RenderOptions) -> None:
        self.kb = kb
        self.options = options
        self._parts = {rule.id: _rule_parts(rule, options) for rule in kb.rules}

    def cards(
        self,
        evaluation: Evaluation,
        order: KetamineOrder,
        gaps: Sequence[DataGap],
        call: CallContext,
    ) -> list[Card]:
        """One card per finding, plus a data-gap card when something could not be checked; urgent first."""
        cards = [self.finding_card(finding, order, call) for finding in evaluation.findings]
        if gaps:
            cards.append(self.data_gap_card(gaps))
        return sorted(cards, key=lambda card: -SEVERITY[card.indicator])

    def parts(self, rule: RuleSpec) -> RuleParts:
        """The rule's compiled parts (built now for a rule the knowledge base does not hold)."""
        parts = self._parts.get(rule.id)
        return parts if parts is not None else _rule_parts(rule, self.options)

    def finding_card(self, finding: Finding, order: KetamineOrder, call: CallContext) -> Card:
        """The card for one interacting class."""
        return render_finding(finding, order, self.parts(finding.rule), self.options, call)

    def data_gap_card(self, gaps: Sequence[DataGap]) -> Card:
        """The card saying what could not be checked; the medication list may be incomplete."""
        rule = self.kb.data_gap_rule
        parts = self.parts(rule) if rule is not None else None
        return render_data_gap_card(gaps, rule, parts, self.options)


def _rule_parts(rule: RuleSpec, options: RenderOptions) -> RuleParts:
    topic = Coding(system=options.topic_system, code=rule.id, display=rule.title)
    by_url = {str(ref.url): ref.citation for ref in rule.evidence.references}  # one link per URL
    return RuleParts(
        source=Source(label=options.source_label, url=options.source_url, topic=topic),
        override_reasons=tuple(
            Coding(system=options.override_reason_system, code=r.code, display=r.display)
            for r in rule.override_reasons
        ),
        links=tuple(Link(label=truncate(label, 100), url=url) for url, label in by_url.items()),
    )


def display_zone(name: str | None, order: KetamineOrder) -> tzinfo:
    """The configured zone, else the order's own offset (the clinician's local time), else UTC."""
    if name:
        return zone(name)
    if order.start is not None and order.start.tzinfo is not None:
        return order.start.tzinfo
    return UTC


def render_finding(
    finding: Finding,
    order: KetamineOrder,
    parts: RuleParts,
    options: RenderOptions,
    call: CallContext,
) -> Card:
    """The card for one interacting class."""
    tz = display_zone(options.timezone, order)
    drugs = drug_names(finding)
    uuid = options.new_uuid()
    suggestions = _suggestions(finding, order, options, call, tz)
    return Card(
        uuid=uuid,
        summary=summary_text(finding, drugs),
        detail=detail_markdown(finding, drugs, call.now, tz),
        indicator=finding.indicator,
        source=parts.source,
        suggestions=suggestions or None,
        selectionBehavior=options.selection_behavior if suggestions else None,
        overrideReasons=list(parts.override_reasons),
        links=_links(finding, parts),
        extension=_hold_extension(finding, tz),
    )


# ---------------------------------------------------------------- summary


def drug_names(finding: Finding, limit: int = 2) -> str:
    """The drugs a summary names: current ones ("clonazepam and lorazepam"), else the stopped ones."""
    current = finding.current_matches or finding.matches
    return join_names(list(dict.fromkeys(match.member.name for match in current)), limit)


def summary_text(finding: Finding, drugs: str) -> str:
    """The class's summary template for this variant, filled and kept under 140 characters."""
    template = _template(finding.rule, finding)
    text = _fill(template, drugs, finding)
    if len(text) > SUMMARY_MAX:
        current = finding.current_matches or finding.matches
        names = list(dict.fromkeys(match.member.name for match in current))
        text = _fill(template, join_names(names, 1), finding)
    return truncate(text, SUMMARY_MAX)


def _template(rule: RuleSpec, finding: Finding) -> str:
    if not finding.current_matches:
        return "Recently stopped {drugs} may still interact with ketamine: review"
    summaries = rule.summary
    chosen = {"light": summaries.light, "strong": summaries.strong}.get(finding.variant)
    template = chosen or summaries.default
    # A site may remove the hold; a template that promises one would then be wrong.
    if "{hold_hours}" in template and _hold_hours(finding) is None:
        return "Review {drugs} before the ketamine infusion: " + rule.title.lower()
    return template


def _hold_hours(finding: Finding) -> float | None:
    # An as-needed-only hold still names its hours for regular users ("avoid extra doses 4 h before").
    hold = finding.hold or finding.rule.hold
    return hold.before_hours if hold is not None and hold.before_hours > 0 else None


def _fill(template: str, drugs: str, finding: Finding) -> str:
    hold_hours = _hold_hours(finding)
    text = template.replace("{drugs}", drugs)
    text = text.replace("{hold_hours}", hours(hold_hours) if hold_hours is not None else "")
    return text[:1].upper() + text[1:]


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


# ---------------------------------------------------------------- card parts


def _links(finding: Finding, parts: RuleParts) -> list[Link] | None:
    links = list(parts.links)
    if finding.dose is not None and all(link.url != finding.dose.equivalence_url for link in links):
        links.append(
            Link(label="Benzodiazepine equivalence table", url=finding.dose.equivalence_url)
        )
    return links or None


def _suggestions(
    finding: Finding, order: KetamineOrder, options: RenderOptions, call: CallContext, tz: tzinfo
) -> list[Suggestion]:
    hold = finding.hold
    held = join_names(
        list(dict.fromkeys(m.member.name for m in held_matches(finding.rule, finding.matches)))
    )
    context = SuggestionContext(
        order=order,
        patient_id=call.patient_id,
        hold_instruction=f"Ketamine infusion: {hold_sentence(hold, held, tz)}" if hold else None,
        new_uuid=options.new_uuid,
    )
    built = (build_suggestion(spec, context) for spec in finding.rule.suggestions)
    suggestions = [suggestion for suggestion in built if suggestion is not None]
    if finding.variant == "strong":
        # Regular or high-dose use: whether to hold even one dose is the prescriber's call, so no
        # action is pre-selected (the card's own wording is "review; do not stop abruptly").
        suggestions = [s.model_copy(update={"isRecommended": None}) for s in suggestions]
    if options.selection_behavior == "at-most-one":
        suggestions = _one_recommended(suggestions)
    return suggestions


def _one_recommended(suggestions: list[Suggestion]) -> list[Suggestion]:
    # With at-most-one, the spec allows a single recommended suggestion.
    seen = False
    kept: list[Suggestion] = []
    for suggestion in suggestions:
        if suggestion.isRecommended and seen:
            suggestion = suggestion.model_copy(update={"isRecommended": None})
        seen = seen or bool(suggestion.isRecommended)
        kept.append(suggestion)
    return kept


def _hold_extension(finding: Finding, tz: tzinfo) -> dict[str, Any] | None:
    hold = finding.hold
    if hold is None or hold.hold_from is None:
        return None
    windows = []
    for match in held_matches(finding.rule, finding.matches):
        window = {
            "medication": match.fact.display,
            "reference": match.fact.reference,
            "holdFrom": hold.hold_from.astimezone(tz).isoformat(),
        }
        if hold.resume_after is not None:
            window["resumeAfter"] = hold.resume_after.astimezone(tz).isoformat()
        windows.append(window)
    return {HOLD_WINDOWS_KEY: windows} if windows else None


# ---------------------------------------------------------------- data gaps


def render_data_gap_card(
    gaps: Sequence[DataGap],
    rule: RuleSpec | None,
    parts: RuleParts | None,
    options: RenderOptions,
) -> Card:
    """The card saying what could not be checked; the medication list may be incomplete."""
    lines = [f"- **{gap.what}**: {gap.reason}" for gap in gaps] or ["- (no detail given)"]
    detail = [
        "**Could not check**",
        "\n".join(lines),
        "The patient's medication list may be incomplete: interacting medications may be missing "
        "from these cards. Review the medication list before the ketamine infusion.",
    ]
    if rule is None or parts is None:
        return _fallback_gap_card(detail, options)
    detail.append(rule.recommendation.strip())
    return Card(
        uuid=options.new_uuid(),
        summary=truncate(rule.summary.default.replace("{drugs}", "medications"), SUMMARY_MAX),
        detail="\n\n".join(detail),
        indicator=rule.indicator.default,
        source=parts.source,
        overrideReasons=list(parts.override_reasons),
        links=list(parts.links) or None,
    )


def _fallback_gap_card(detail: list[str], options: RenderOptions) -> Card:
    # Used only when the knowledge base has no active data-gap rule.
    topic = Coding(
        system=options.topic_system, code=DATAGAP_TOPIC, display="Medication data incomplete"
    )
    return Card(
        uuid=options.new_uuid(),
        summary="Medication list could not be fully checked before the ketamine infusion",
        detail="\n\n".join(detail),
        indicator="warning",
        source=Source(label=options.source_label, url=options.source_url, topic=topic),
        overrideReasons=[
            Coding(
                system=options.override_reason_system,
                code="list-reviewed",
                display="Medication list reviewed by the prescriber",
            )
        ],
    )
