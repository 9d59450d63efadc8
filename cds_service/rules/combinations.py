"""Combinations: drugs riskier together than apart raise and annotate every class card involved. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cds_service.rules.findings import SEVERITY, CombinationAlert, Finding
from cds_service.rules.schema import Combination


def apply_combinations(
    combinations: Sequence[Combination], findings: tuple[Finding, ...]
) -> tuple[Finding, ...]:
    """Raise and annotate every finding that takes part in a combination the patient is on.

    Only current medications count (not those inside a washout): the risk is of taking them together.
    """
    for combination in combinations:
        present = _groups_present(combination, findings)
        if len(present) < combination.min_groups:
            continue
        alert = CombinationAlert(combination, tuple(present.items()))
        findings = tuple(
            _with_alert(finding, alert) if _takes_part(finding, combination) else finding
            for finding in findings
        )
    return findings


def _group_of(
    combination: Combination, topic: str, ingredient: str, heavy: bool = True
) -> str | None:
    for group in combination.groups:
        if group.heavy_use_only and not heavy:
            continue
        if topic in group.topics or ingredient in group.ingredients:
            return group.name
    return None


def _groups_present(
    combination: Combination, findings: Sequence[Finding]
) -> dict[str, tuple[str, ...]]:
    present: dict[str, dict[str, None]] = {}
    for finding in findings:
        for match in finding.current_matches:
            group = _group_of(combination, finding.rule.id, match.member.name, match.fact.heavy_use)
            if group is not None:  # named as the cards name it ("alcohol", not "ethanol")
                present.setdefault(group, {})[match.member.label or match.member.name] = None
    return {group: tuple(names) for group, names in present.items()}


def _takes_part(finding: Finding, combination: Combination) -> bool:
    return any(
        _group_of(combination, finding.rule.id, match.member.name, match.fact.heavy_use) is not None
        for match in finding.current_matches
    )


def _with_alert(finding: Finding, alert: CombinationAlert) -> Finding:
    raised = alert.combination.indicator
    indicator = raised if SEVERITY[raised] > SEVERITY[finding.indicator] else finding.indicator
    return replace(finding, indicator=indicator, alerts=(*finding.alerts, alert))
