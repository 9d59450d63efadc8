"""The loaded knowledge base: manifest, class rules and their cases, frozen after start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cds_service.rules.schema import CaseFile, Manifest, RuleSpec


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    manifest: Manifest
    rules: tuple[RuleSpec, ...]
    cases: Mapping[str, CaseFile] = field(default_factory=dict)
    digest: str = ""  # sha256 over the files' bytes; recorded with every audited evaluation
    # RxNorm product code (SCD/SBD/GPCK/BPCK) -> ingredient names, from cards/valuesets/*.yaml.
    product_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def active_rules(self) -> tuple[RuleSpec, ...]:
        """Rules that may produce cards (draft and retired ones never do)."""
        return tuple(rule for rule in self.rules if rule.status == "active")

    def rule(self, topic: str) -> RuleSpec:
        """The rule with this topic code; KeyError when there is none."""
        for rule in self.rules:
            if rule.id == topic:
                return rule
        raise KeyError(topic)
