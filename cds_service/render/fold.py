"""One card for a drug that falls in two classes (carbamazepine: antiepileptic and CYP inducer).

A finding folds into another when every record it counted is on the other card too, through a
member the knowledge base declares in both classes (``also_in``), and it adds a reason, not a hold
or a combination alert the other card lacks. Its card's reason, evidence, links, suggestions and
override reasons are then added to the other card, and its own card is dropped. Distinct drugs keep one card per class:
carbamazepine with rifampin still gets its CYP inducer card, naming both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cds_service.cdshooks.models import Card, Coding, Link
from cds_service.render.links import links_for
from cds_service.render.profiles import Profile
from cds_service.render.summary import SUMMARY_MAX
from cds_service.rules.findings import SEVERITY, Finding


@dataclass(frozen=True, slots=True)
class FoldedFinding:
    """A finding that gets a card, with the findings whose reasons join it."""

    primary: Finding
    also: tuple[Finding, ...] = ()


def fold_findings(findings: Sequence[Finding]) -> list[FoldedFinding]:
    """The findings as cards: those with a hold or the higher indicator lead; folded ones join."""
    ranked = sorted(enumerate(findings), key=lambda item: _rank(item[1], item[0]))
    primaries: list[tuple[int, Finding, list[Finding]]] = []
    for index, finding in ranked:
        host = next((entry for entry in primaries if _folds_into(finding, entry[1])), None)
        if host is not None:
            host[2].append(finding)
        else:
            primaries.append((index, finding, []))
    return [FoldedFinding(f, tuple(also)) for _, f, also in sorted(primaries, key=lambda e: e[0])]


def _rank(finding: Finding, index: int) -> tuple[int, int, int]:
    return (finding.hold is None, -SEVERITY[finding.indicator], index)


def _folds_into(finding: Finding, host: Finding) -> bool:
    # A combination alert the host card already carries (phenobarbital with an opioid on the
    # sedation card) is not lost by folding; any other alert keeps its own card.
    if finding.hold is not None or any(alert not in host.alerts for alert in finding.alerts):
        return False
    hosted = {id(match.fact) for match in host.matches}
    return all(
        id(match.fact) in hosted and host.rule.id in match.member.also_in
        for match in finding.matches
    )


def merged_card(card: Card, also: Sequence[Card], titles: Sequence[str], profile: Profile) -> Card:
    """``card`` with the reasons of the ``also`` cards (their class ``titles``) added to it."""
    if not also:
        return card
    summary = _summary(card.summary, titles)
    detail = card.detail or ""
    seen = set(detail.split("\n\n"))
    for other, title in zip(also, titles, strict=True):
        extra = [
            p.replace("; advisory only._", "._")  # the card already says so once
            for p in (other.detail or "").split("\n\n")
            if p and p not in seen
        ]
        detail = "\n\n".join([detail, f"**Also: {title}**", *extra])
    suggestions = [*(card.suggestions or ()), *(s for c in also for s in c.suggestions or ())]
    indicator = max((card, *also), key=lambda c: SEVERITY[c.indicator]).indicator
    return card.model_copy(
        update={
            "summary": summary,
            "detail": detail,
            "indicator": indicator,
            "suggestions": suggestions or None,
            "selectionBehavior": profile.selection_behavior if suggestions else None,
            "overrideReasons": _reasons(card, also) or None,
            "links": links_for(_links(card, also), profile),
        }
    )


def _summary(summary: str, titles: Sequence[str]) -> str:
    tagged = f"{summary}; also: {' and '.join(titles)}"
    return tagged if len(tagged) <= SUMMARY_MAX else summary


def _reasons(card: Card, also: Sequence[Card]) -> list[Coding]:
    found: dict[tuple[str, str], Coding] = {}
    for coding in (c for each in (card, *also) for c in each.overrideReasons or ()):
        found.setdefault((coding.system, coding.code), coding)
    return list(found.values())


def _links(card: Card, also: Sequence[Card]) -> list[Link]:
    # Each class's first reference first, then the rest: the folded reason keeps its evidence.
    groups = [list(each.links or ()) for each in (card, *also)]
    firsts = [group[0] for group in groups if group]
    return [*firsts, *(link for group in groups for link in group[1:])]
