"""What a shadow rule's finding leaves in the audit: its rule, version and classes of record only."""

from __future__ import annotations

from cds_service.rules.findings import Finding, Match
from cds_service.store.records import ShadowFinding


def shadow_finding(finding: Finding) -> ShadowFinding:
    return ShadowFinding(
        topic=finding.rule.id,
        rule_version=finding.rule.version,
        indicator=finding.indicator,
        record_classes=tuple(sorted({record_class(m) for m in finding.matches})),
    )


def record_class(match: Match) -> str:
    """The class of record a rule matched, in our own words: never the record's text or id."""
    fact = match.fact
    state = "stopped within washout" if match.within_washout else "current"
    dosing = "as needed" if fact.as_needed else "scheduled"
    return f"{match.member.name} · {fact.resource_type} · {state} · {dosing}"
