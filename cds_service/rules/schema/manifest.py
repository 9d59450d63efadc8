"""``cards/knowledge-base.yaml``: what the knowledge base is, how ketamine orders and infusion
appointments are recognised, combinations."""

from __future__ import annotations

from datetime import date

from pydantic import Field, HttpUrl, model_validator

from cds_service.rules.schema.common import (
    TOPIC_PATTERN,
    Evidence,
    FieldProblem,
    Indicator,
    Strict,
)


class KetamineTerms(Strict):
    """How a draft order is recognised as ketamine (or esketamine)."""

    rxcui: tuple[str, ...] = Field(min_length=1, description="RxNorm ingredient code(s).")
    product_codes: tuple[str, ...] = Field(default=(), description="RxNorm SCD/SBD codes.")
    snomed: tuple[str, ...] = Field(
        default=(), description="SNOMED CT substance and product codes."
    )
    names: tuple[str, ...] = Field(
        min_length=1, description="Ingredient and brand names recognised in free text, lower case."
    )
    esketamine_rxcui: tuple[str, ...] = Field(
        default=(),
        description="Esketamine ingredient codes; esketamine triggers only when "
        "CDS_TRIGGER_ON_ESKETAMINE=true.",
    )
    esketamine_snomed: tuple[str, ...] = Field(
        default=(), description="Esketamine SNOMED CT codes."
    )
    esketamine_names: tuple[str, ...] = Field(
        default=(), description="Esketamine names and brands, lower case."
    )
    infusion_service_terms: tuple[str, ...] = Field(
        default=(), description="Words that make a ServiceRequest a ketamine infusion."
    )


class AppointmentCode(Strict):
    """One coding that makes an Appointment a ketamine infusion session (a site's own codes)."""

    system: str = Field(
        pattern=r"^(https?|urn):",
        description="The code system, exactly as the EHR sends it in the coding.",
    )
    code: str = Field(min_length=1, description="The code.")
    display: str | None = Field(default=None, description="What the code means, for reviewers.")


class AppointmentTerms(Strict):
    """How an Appointment is recognised as a ketamine infusion session (appointment-book,
    patient-view, encounter-start). Matching is by code, or by words in the appointment's texts."""

    codes: tuple[AppointmentCode, ...] = Field(
        default=(),
        description="Codings in serviceType, appointmentType, specialty or reasonCode (or in a "
        "referenced HealthcareService's type or category) that mean a ketamine infusion.",
    )
    phrases: tuple[str, ...] = Field(
        default=(),
        description="Lower-case phrases; an appointment matches when every word of one phrase is "
        "in one of its texts (description, concept texts and displays, HealthcareService name).",
    )
    esketamine_phrases: tuple[str, ...] = Field(
        default=(),
        description="Phrases of esketamine (Spravato) sessions; they trigger only when "
        "CDS_TRIGGER_ON_ESKETAMINE=true.",
    )
    healthcare_services: tuple[str, ...] = Field(
        default=(),
        description='References ("HealthcareService/123") of the site\'s ketamine infusion '
        "service; an appointment naming one among its participants matches.",
    )


class CombinationGroup(Strict):
    """One kind of drug in a combination: every member of some classes, or named ingredients."""

    name: str = Field(
        min_length=3, description='How the card names the kind of drug, e.g. "opioid".'
    )
    topics: tuple[str, ...] = Field(
        default=(), description="Classes whose every member belongs to the group."
    )
    ingredients: tuple[str, ...] = Field(
        default=(), description="Member names that belong to the group."
    )
    heavy_use_only: bool = Field(
        default=False,
        description="Only heavy use counts (alcohol: drinks a day at or above the threshold in "
        "patient-context.yaml, a heavy-drinker code or AUDIT-C score, an active use disorder).",
    )

    @model_validator(mode="after")
    def _names_something(self) -> CombinationGroup:
        if not self.topics and not self.ingredients:
            raise FieldProblem("topics", "a group needs topics or ingredients")
        return self


class Combination(Strict):
    """Drugs that are riskier together than apart: raises the cards of every class involved."""

    id: str = Field(
        pattern=TOPIC_PATTERN,
        description="Stable id, listed in topics.yaml; a site may disable it in "
        "CDS_RULE_OVERRIDES.",
    )
    title: str = Field(min_length=5, description="Heading of the paragraph on the cards.")
    groups: tuple[CombinationGroup, ...] = Field(
        min_length=2, description="The kinds of drug that add up."
    )
    min_groups: int = Field(
        default=2, ge=2, description="How many groups the patient must currently take."
    )
    indicator: Indicator = Field(description="The indicator every card involved is raised to.")
    advice: str = Field(min_length=10, description="The paragraph the cards carry.")
    summary: str | None = Field(
        default=None,
        min_length=5,
        max_length=60,
        description="Added to the summary line of every card involved, so the combined risk is "
        'seen there: "with {others}: combined respiratory risk" ({others}: the patient\'s drugs '
        "of the other groups). Placed first when the line would be too long.",
    )
    evidence: Evidence = Field(description="The grade and sources of the advice.")


class Manifest(Strict):
    """``cards/knowledge-base.yaml``: what the whole knowledge base is and what it was checked against."""

    name: str = Field(description="What this knowledge base is.")
    version: str = Field(
        pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$",
        description="Semantic version; goes into audit records with the digest.",
    )
    rxnorm_version: str = Field(
        min_length=4, description="The RxNorm release(s) the codes were checked against."
    )
    checked_on: date = Field(description="When the codes were last checked.")
    topic_system: str = Field(
        pattern=r"^(https?|urn):", description="Card source.topic.system; stable."
    )
    override_reason_system: str = Field(
        pattern=r"^(https?|urn):", description="System of the coded override reasons."
    )
    source_label: str = Field(description="Card source.label (settings may replace it).")
    source_url: HttpUrl | None = Field(
        default=None,
        description="Card source.url; about the organisation, so each site sets CDS_SOURCE_URL.",
    )
    ketamine: KetamineTerms = Field(description="How a draft order is recognised as ketamine.")
    combinations: tuple[Combination, ...] = Field(
        default=(), description="Drugs that are riskier together than apart."
    )
    appointments: AppointmentTerms = Field(
        default_factory=AppointmentTerms,
        description="How an Appointment is recognised as a ketamine infusion session; without "
        "codes or phrases no appointment is.",
    )
