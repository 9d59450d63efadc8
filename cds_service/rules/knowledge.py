"""The knowledge base: as loaded from ``cards/``, and compiled once at start-up for the pure core.

``KnowledgeBase`` is what the files say. ``CompiledKnowledgeBase`` is what a running service reads: site
overrides applied, only the rules and combinations that can fire, member indexes and the medication
lexicon built. Shadow rules (``status: shadow``) are held apart: evaluated and audited, never shown.
Both are immutable; nothing in the core keeps a cache of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from cds_service.clinical.appointments import AppointmentVocabulary
from cds_service.clinical.conditions import ConditionVocabulary
from cds_service.clinical.lexicon import KetamineVocabulary, Lexicon, MemberTerms
from cds_service.clinical.substances import SubstanceVocabulary
from cds_service.clinical.types import MedicationFact
from cds_service.rules.circumstances import condition_vocabulary, substance_vocabulary
from cds_service.rules.overrides import RuleOverride, effective_rule
from cds_service.rules.schema import (
    CaseFile,
    Combination,
    Manifest,
    Member,
    Modifier,
    PatientContextRules,
    PatientInstructions,
    RuleSpec,
)


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The files of ``cards/`` as validated by the loader."""

    manifest: Manifest
    rules: tuple[RuleSpec, ...]
    cases: Mapping[str, CaseFile] = field(default_factory=dict)
    digest: str = ""  # sha256 over the files' bytes; recorded with every audited evaluation
    # RxNorm product code (SCD/SBD/GPCK/BPCK) -> ingredient names, from cards/valuesets/*.yaml.
    product_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # cards/patient/instructions.yaml; None: no patient text is written.
    patient: PatientInstructions | None = None
    # cards/patient-context.yaml; None: substance use and conditions are not read.
    context: PatientContextRules | None = None

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


@dataclass(frozen=True, slots=True, eq=False)
class CompiledKnowledgeBase:
    """The knowledge base a running service uses, with one site's overrides applied."""

    source: KnowledgeBase
    rules: tuple[RuleSpec, ...]  # every rule, overrides applied (a disabled one is a draft)
    interaction_rules: tuple[RuleSpec, ...]  # the active interaction classes, in file order
    data_gap_rule: RuleSpec | None
    combinations: tuple[Combination, ...]  # those the site has not disabled
    lexicon: Lexicon
    _members: Mapping[str, Mapping[str, Member]]  # topic -> ingredient name -> member
    # Interaction classes piloted in shadow: evaluated and audited, never returned to the EHR.
    shadow_rules: tuple[RuleSpec, ...] = ()
    # How an Appointment is recognised as a ketamine infusion session (the manifest's terms).
    appointments: AppointmentVocabulary = field(default_factory=AppointmentVocabulary)
    # How Conditions, readings and substance use are read (patient-context.yaml), and the
    # conditions that change a class's card.
    conditions: ConditionVocabulary = field(default_factory=ConditionVocabulary)
    substances: SubstanceVocabulary = field(default_factory=SubstanceVocabulary)
    modifiers: tuple[Modifier, ...] = ()
    # The longest washout of an active class: an unrecognised entry that ended before it is not
    # listed as "could not be checked" (no class would count it even if it were recognised).
    longest_washout_days: int = 0

    @property
    def manifest(self) -> Manifest:
        return self.source.manifest

    @property
    def digest(self) -> str:
        return self.source.digest

    @property
    def condition_topics(self) -> frozenset[str]:
        """The classes a Condition can change (a modifier's topics, a use disorder's class)."""
        topics = {topic for modifier in self.modifiers for topic in modifier.topics}
        for _, ingredient, _ in self.substances.disorders:
            topics.update(self.lexicon.classes_for(ingredient))
        return frozenset(topics)

    @property
    def reading_topics(self) -> frozenset[str]:
        """The classes a blood-pressure reading can change (modifiers of a set with a reading)."""
        sets = self.conditions.readings.keys()
        return frozenset(t for m in self.modifiers if m.condition in sets for t in m.topics)

    def members(self, topic: str) -> Mapping[str, Member]:
        """The members of one class by canonical ingredient name (empty for an unknown topic)."""
        return self._members.get(topic, MappingProxyType({}))

    def candidates(self, facts: Sequence[MedicationFact]) -> dict[str, list[MedicationFact]]:
        """Each class's records, in list order: those naming one of its members. A class judges no
        other record, so each looks at its few rather than every class at the whole list."""
        found: dict[str, list[MedicationFact]] = {}
        # The lexicon's ingredient -> classes index is built from the same (active and shadow) rules.
        topics_of = self.lexicon.classes
        for fact in facts:
            # A product with two members of one class (or of two classes) is each class's record once.
            topics = dict.fromkeys(t for name in fact.ingredients for t in topics_of.get(name, ()))
            for topic in topics:
                found.setdefault(topic, []).append(fact)
        return found

    def rule(self, topic: str) -> RuleSpec:
        """The effective rule with this topic code; KeyError when there is none."""
        for rule in self.rules:
            if rule.id == topic:
                return rule
        raise KeyError(topic)

    def rule_version(self, topic: str) -> int:
        """The version of a topic's rule, 0 when the topic is not a rule (audit records carry it)."""
        try:
            return self.rule(topic).version
        except KeyError:
            return 0


def compile_knowledge_base(
    kb: KnowledgeBase, overrides: Mapping[str, RuleOverride] | None = None
) -> CompiledKnowledgeBase:
    """Apply a site's overrides and build every index the core reads (start-up only)."""
    overrides = overrides or {}
    rules = tuple(effective_rule(rule, overrides.get(rule.id)) for rule in kb.rules)
    active = tuple(rule for rule in rules if rule.status == "active")
    interaction = tuple(rule for rule in active if rule.kind == "interaction")
    shadow = tuple(r for r in rules if r.status == "shadow" and r.kind == "interaction")
    return CompiledKnowledgeBase(
        source=kb,
        rules=rules,
        interaction_rules=interaction,
        data_gap_rule=next((rule for rule in active if rule.kind == "data-gap"), None),
        combinations=tuple(c for c in kb.manifest.combinations if _enabled(c.id, overrides)),
        lexicon=Lexicon.build(
            _member_terms((*interaction, *shadow)), _ketamine_terms(kb.manifest), kb.product_codes
        ),
        _members=MappingProxyType(
            {
                rule.id: MappingProxyType({member.name: member for member in rule.members})
                for rule in (*interaction, *shadow)
            }
        ),
        shadow_rules=shadow,
        appointments=_appointment_terms(kb.manifest),
        conditions=condition_vocabulary(kb.context),
        substances=substance_vocabulary(kb.context, (*interaction, *shadow)),
        modifiers=kb.context.modifiers if kb.context else (),
        longest_washout_days=max((rule.washout_days for rule in interaction), default=0),
    )


def _enabled(topic: str, overrides: Mapping[str, RuleOverride]) -> bool:
    override = overrides.get(topic)
    return override is None or override.enabled is not False


def _member_terms(rules: tuple[RuleSpec, ...]) -> Iterator[MemberTerms]:
    for rule in rules:
        for member in rule.members:
            yield MemberTerms(
                topic=rule.id,
                ingredient=member.name,
                rxnorm=((member.rxcui,) if member.rxcui else ()) + member.product_codes,
                snomed=member.snomed,
                names=(*member.brands, *member.synonyms),
                depot_words=member.depot.words if member.depot else (),
                depot_days=member.depot.acts_days if member.depot else None,
            )


def _ketamine_terms(manifest: Manifest) -> KetamineVocabulary:
    terms = manifest.ketamine
    return KetamineVocabulary(
        rxnorm=(*terms.rxcui, *terms.product_codes),
        snomed=terms.snomed,
        names=terms.names,
        esketamine_rxnorm=terms.esketamine_rxcui,
        esketamine_snomed=terms.esketamine_snomed,
        esketamine_names=terms.esketamine_names,
        infusion_terms=terms.infusion_service_terms,
    )


def _appointment_terms(manifest: Manifest) -> AppointmentVocabulary:
    terms = manifest.appointments
    return AppointmentVocabulary.build(
        codes=((code.system, code.code) for code in terms.codes),
        phrases=terms.phrases,
        esketamine_phrases=terms.esketamine_phrases,
        services=terms.healthcare_services,
    )
