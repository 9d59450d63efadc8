"""The knowledge base as the console shows it: each topic with the site's overrides applied. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.console import codes
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.rules.schema import Case, RuleSpec
from cds_service.store.analytics import ShadowReport


@dataclass(frozen=True, slots=True)
class ReasonLine:
    code: str
    system: str
    display: str  # on our card
    hl7: str | None  # the HL7 display of an HL7 code


@dataclass(frozen=True, slots=True)
class TopicView:
    """One rule as run (overrides applied), what the site changed, its reasons and cases."""

    rule: RuleSpec
    overridden: tuple[str, ...]
    reasons: tuple[ReasonLine, ...]
    cases: tuple[Case, ...]

    @property
    def hold_text(self) -> str:
        hold = self.rule.hold
        if hold is None or hold.before_hours <= 0:
            return "none"
        resume = (
            f", resume {hold.resume_after_hours:g} h after"
            if hold.resume_after_hours is not None
            else ", resume after recovery"
        )
        scope = " (as-needed doses only)" if hold.applies_to == "as-needed" else ""
        return f"{hold.before_hours:g} h before{resume}{scope}"


def topics(kb: CompiledKnowledgeBase) -> list[TopicView]:
    """Every rule of the knowledge base, in file order."""
    return [topic_view(kb, rule.id) for rule in kb.rules]


def topic_view(kb: CompiledKnowledgeBase, topic: str) -> TopicView:
    """One topic; KeyError when the knowledge base has none by that code."""
    rule = kb.rule(topic)
    source = kb.source.rule(topic)
    case_file = kb.source.cases.get(topic)
    system = kb.manifest.override_reason_system
    return TopicView(
        rule=rule,
        overridden=tuple(_differences(source, rule)),
        reasons=tuple(
            ReasonLine(
                code=r.code,
                system=r.system or system,
                display=r.display,
                hl7=codes.DISPLAYS.get(r.code) if r.system == codes.SYSTEM else None,
            )
            for r in rule.override_reasons
        ),
        cases=case_file.cases if case_file else (),
    )


def _differences(source: RuleSpec, rule: RuleSpec) -> list[str]:
    changed = []
    for name in ("status", "hold", "washout_days", "indicator", "dose_policy"):
        before, after = getattr(source, name), getattr(rule, name)
        if before != after:
            changed.append(f"{name}: {_short(before)} in the files, {_short(after)} here")
    return changed


def _short(value: object) -> str:
    if hasattr(value, "model_dump"):
        dumped = value.model_dump(exclude_defaults=True, mode="json")
        return ", ".join(f"{k} {v}" for k, v in dumped.items()) or "defaults"
    return str(value)


@dataclass(frozen=True, slots=True)
class ShadowRow:
    label: str
    title: str
    would_fire: int
    rate: float | None
    record_classes: tuple[tuple[str, int], ...]


def shadow_rows(kb: CompiledKnowledgeBase, report: ShadowReport) -> list[ShadowRow]:
    """Every shadow rule loaded now (fired or not) and every shadow rule version that fired."""
    fired = {(s.topic, s.rule_version): s for s in report.shadow}
    keys = set(fired) | {(rule.id, rule.version) for rule in kb.shadow_rules}
    rows = []
    for topic, version in sorted(keys):
        count = fired.get((topic, version))
        n = count.would_fire if count else 0
        rows.append(
            ShadowRow(
                label=f"{topic} v{version}",
                title=_title(kb, topic),
                would_fire=n,
                rate=n / report.evaluated if report.evaluated else None,
                record_classes=count.record_classes if count else (),
            )
        )
    return rows


def _title(kb: CompiledKnowledgeBase, topic: str) -> str:
    try:
        return kb.rule(topic).title
    except KeyError:
        return topic
