"""Findings to CDS Hooks cards: summary, indicator, detail, source, links, suggestions. Pure.

The EHR profile of the call (``CallContext.profile``) decides the shape: selection behaviour, how holds
become suggestions, the detail form, which links go out and whether a card may be critical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from cds_service.cdshooks.models import Card, Coding, Link, Source, Suggestion
from cds_service.clinical.types import DataGap, Indicator, KetamineOrder
from cds_service.render.concise import brief_detail, concise_detail
from cds_service.render.deliver import PatientDelivery, Recipient, deliver
from cds_service.render.detail import full_detail
from cds_service.render.fold import FoldedFinding, fold_findings, merged_card
from cds_service.render.holds import hold_note, shared_hold
from cds_service.render.ids import new_uuid
from cds_service.render.links import links_for, reference_links
from cds_service.render.patient import PatientPlan, compiled_wordings, patient_plan
from cds_service.render.profiles import Profile, ProfileName, build_profiles
from cds_service.render.sessions import HOLD_WINDOWS_KEY as HOLD_WINDOWS_KEY
from cds_service.render.sessions import hold_windows_extension, holds_of, opened_summary
from cds_service.render.suggestions import HoldUpdate, SuggestionContext, build_suggestion
from cds_service.render.summary import SUMMARY_MAX, drug_names, summary_text, truncate
from cds_service.render.unchecked import unchecked_card
from cds_service.render.wording import CardTime, zone
from cds_service.rules.findings import SEVERITY, Evaluation, Finding
from cds_service.rules.knowledge import CompiledKnowledgeBase, KnowledgeBase
from cds_service.rules.schema import RuleSpec

DATAGAP_TOPIC = "DATAGAP"
_DETAIL = {"brief": brief_detail, "concise": concise_detail, "full": full_detail}
SPEC_PROFILE = build_profiles()["spec"]


def _new_uuid() -> str:
    return new_uuid()


@dataclass(frozen=True)
class RenderOptions:
    """Presentation settings (from Settings and the knowledge-base manifest), fixed at start-up."""

    source_label: str
    source_url: str | None
    topic_system: str
    override_reason_system: str
    # IANA name for the clock times shown; None shows them in the offset the infusion start was given in.
    timezone: str | None = None
    profiles: Mapping[ProfileName, Profile] = field(default_factory=build_profiles)
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
    """What one hook call adds to the static options: whose cards, when, and for which client."""

    patient_id: str
    now: datetime | None = None  # evaluation time, for "stopped 2 days ago"
    profile: Profile = SPEC_PROFILE
    user_id: str | None = None
    encounter_id: str | None = None
    # How the hook offers the patient's plan under the spec profile (cdshooks.registry).
    delivery: str = "communication"

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.patient_id, self.user_id, self.encounter_id, self.delivery)


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
        words = kb.source.patient
        topics = [rule.id for rule in kb.rules]
        self._wordings = compiled_wordings(words, topics) if words is not None else {}
        for profile in options.profiles.values():
            profile.check_topics(self._parts)

    def cards(
        self,
        evaluation: Evaluation,
        order: KetamineOrder,
        gaps: Sequence[DataGap],
        call: CallContext,
    ) -> list[Card]:
        """One card per finding, plus a data-gap card when something could not be checked; urgent first."""
        zone_shown = display_zone(self.options.timezone, order)
        time = CardTime(order.start, call.now, zone_shown, order.moments)
        shared = shared_hold(evaluation.findings, order, time, call.profile)
        plan = self.patient_plan(evaluation, order, call.now, time)
        delivery = deliver(plan, order, call.recipient, call.profile, call.now) if plan else None
        cards = [
            self._folded_card(folded, order, call, time, shared, delivery)
            for folded in fold_findings(evaluation.findings)
        ]
        if gaps:
            cards.append(self.data_gap_card(gaps, call.profile))
        return sorted(cards, key=lambda card: -SEVERITY[card.indicator])

    def _folded_card(
        self,
        folded: FoldedFinding,
        order: KetamineOrder,
        call: CallContext,
        time: CardTime,
        shared: HoldUpdate | None,
        delivery: PatientDelivery | None,
    ) -> Card:
        """A class's card, with the reasons of the classes folded into it (``render.fold``)."""
        card = self.finding_card(folded.primary, order, call, time, shared, delivery)
        if not folded.also:
            return card
        also = [self.finding_card(f, order, call, time, shared, delivery) for f in folded.also]
        titles = [finding.rule.title for finding in folded.also]
        merged = merged_card(card, also, titles, call.profile)
        if call.profile.selection_behavior == "at-most-one" and merged.suggestions:
            merged = merged.model_copy(update={"suggestions": _one_recommended(merged.suggestions)})
        return merged

    def patient_plan(
        self,
        evaluation: Evaluation,
        order: KetamineOrder,
        now: datetime | None,
        time: CardTime | None = None,
    ) -> PatientPlan | None:
        """The patient's plain-language plan (None when the knowledge base has no templates);
        ``time``: the cards' own, whose holds it reuses."""
        words = self.kb.source.patient
        if words is None:
            return None
        zone_shown = display_zone(self.options.timezone, order)
        holds = (lambda finding: holds_of(finding, time)) if time is not None else None
        return patient_plan(
            words,
            evaluation.findings,
            order.moments,
            now,
            zone_shown,
            holds=holds,
            wordings=self._wordings,
        )

    def parts(self, rule: RuleSpec) -> RuleParts:
        """The rule's compiled parts (built now for a rule the knowledge base does not hold)."""
        parts = self._parts.get(rule.id)
        return parts if parts is not None else _rule_parts(rule, self.options)

    def finding_card(
        self,
        finding: Finding,
        order: KetamineOrder,
        call: CallContext,
        time: CardTime,
        shared: HoldUpdate | None = None,
        delivery: PatientDelivery | None = None,
    ) -> Card:
        """The card for one interacting class."""
        profile = call.profile
        uuid = self.options.new_uuid()
        suggestions = _suggestions(finding, order, self.options, call, time, shared)
        detail = _DETAIL[profile.detail](finding, time)
        if delivery is not None and any(
            m.topic == finding.rule.id for m in delivery.plan.medicines
        ):
            offered = delivery.suggestion(self.options.new_uuid)
            suggestions += [offered] if offered is not None else []
            detail = "\n\n".join(p for p in (detail, delivery.detail(finding.rule.id)) if p)
        plan = delivery.plan if delivery is not None else None
        extension = {**hold_windows_extension(finding, time, plan), **profile.card_extension}
        return Card(
            uuid=uuid,
            summary=opened_summary(finding, time) or summary_text(finding, drug_names(finding)),
            detail=detail,
            indicator=_indicator(finding, profile),
            source=self.parts(finding.rule).source,
            suggestions=suggestions or None,
            selectionBehavior=profile.selection_behavior if suggestions else None,
            overrideReasons=list(self.parts(finding.rule).override_reasons),
            links=links_for(_finding_links(finding, self.parts(finding.rule)), profile),
            extension=extension or None,
        )

    def unchecked_card(self, entries: Sequence[str], profile: Profile = SPEC_PROFILE) -> Card:
        """The info card listing free-text entries nothing could classify (data-gap topic)."""
        rule = self.kb.data_gap_rule
        if rule is not None:
            parts = self.parts(rule)
            source, reasons = parts.source, parts.override_reasons
        else:
            source = _fallback_gap_card([], self.options).source
            reasons = ()
        return unchecked_card(entries, source, reasons, profile, self.options.new_uuid)

    def data_gap_card(self, gaps: Sequence[DataGap], profile: Profile = SPEC_PROFILE) -> Card:
        """The card saying what could not be checked; the medication list may be incomplete."""
        rule = self.kb.data_gap_rule
        parts = self.parts(rule) if rule is not None else None
        return render_data_gap_card(gaps, rule, parts, self.options, profile)


def _rule_parts(rule: RuleSpec, options: RenderOptions) -> RuleParts:
    topic = Coding(system=options.topic_system, code=rule.id, display=rule.title)
    return RuleParts(
        source=Source(label=options.source_label, url=options.source_url, topic=topic),
        override_reasons=tuple(
            Coding(
                system=r.system or options.override_reason_system, code=r.code, display=r.display
            )
            for r in rule.override_reasons
        ),
        links=reference_links(rule.evidence.references),
    )


def display_zone(name: str | None, order: KetamineOrder) -> tzinfo:
    """The configured zone, else the order's own offset (the clinician's local time), else UTC."""
    if name:
        return zone(name)
    if order.start is not None and order.start.at is not None:
        return order.start.at.tzinfo or UTC
    return UTC


def _indicator(finding: Finding, profile: Profile) -> Indicator:
    # Oracle Health shows critical cards as pop-ups: only a class that must interrupt keeps it.
    if finding.indicator == "critical" and profile.critical_only_interruptive:
        return "critical" if finding.rule.interruptive else "warning"
    return finding.indicator


def _finding_links(finding: Finding, parts: RuleParts) -> list[Link]:
    # The first reference, then what this finding adds (dose table, combination), then the rest.
    extra = []
    if finding.dose is not None:
        extra.append(
            Link(
                label=f"{finding.dose.policy.label} table",
                url=str(finding.dose.policy.equivalence_url),
            )
        )
    for alert in finding.alerts:
        extra.extend(reference_links(alert.combination.evidence.references))
    return [*parts.links[:1], *extra, *parts.links[1:]]


# ---------------------------------------------------------------- suggestions and holds


def _suggestions(
    finding: Finding,
    order: KetamineOrder,
    options: RenderOptions,
    call: CallContext,
    time: CardTime,
    shared: HoldUpdate | None,
) -> list[Suggestion]:
    context = SuggestionContext(
        order=order,
        patient_id=call.patient_id,
        hold_instruction=hold_note(finding, time),
        new_uuid=options.new_uuid,
        profile=call.profile,
        shared_hold=shared,
    )
    built = (build_suggestion(spec, context) for spec in finding.rule.suggestions)
    suggestions = [suggestion for suggestion in built if suggestion is not None]
    if finding.variant == "strong":
        # Regular or high-dose use: whether to hold even one dose is the prescriber's call, so no
        # action is pre-selected (the card's own wording is "review; do not stop abruptly").
        suggestions = [s.model_copy(update={"isRecommended": None}) for s in suggestions]
    if call.profile.selection_behavior == "at-most-one":
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


# ---------------------------------------------------------------- data gaps


def render_data_gap_card(
    gaps: Sequence[DataGap],
    rule: RuleSpec | None,
    parts: RuleParts | None,
    options: RenderOptions,
    profile: Profile = SPEC_PROFILE,
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
    if profile.detail == "full":
        detail.append(rule.recommendation.strip())
    return Card(
        uuid=options.new_uuid(),
        summary=truncate(rule.summary.default.replace("{drugs}", "medications"), SUMMARY_MAX),
        detail="\n\n".join(detail),
        indicator=rule.indicator.default,
        source=parts.source,
        overrideReasons=list(parts.override_reasons),
        links=links_for(parts.links, profile),
        extension=dict(profile.card_extension) or None,
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
