"""Pydantic model of the knowledge base: the manifest, one file per interacting class, and its cases.

This module is the source of ``cards/schema/*.schema.json``; a test fails when those files are stale.
Our own data is validated strictly (``extra="forbid"``): a typo in a rule file must stop start-up.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

Indicator = Literal["info", "warning", "critical"]
Grade = Literal["A", "B", "C", "D"]
TopicCode = str  # validated by pattern where used
TOPIC_PATTERN = r"^[A-Z][A-Z0-9]{1,15}$"
SuggestionKind = Literal[
    "add-hold-instruction",  # update the whole draft ketamine order with a hold note
    "cancel-ketamine-order",  # delete the draft ketamine order (resourceId)
    "order-bp-monitoring",  # create a ServiceRequest for blood-pressure monitoring
    "order-spo2-monitoring",  # create a ServiceRequest for continuous pulse oximetry
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Strict):
    citation: str = Field(min_length=5)
    url: HttpUrl


class Evidence(_Strict):
    grade: Grade
    summary: str = Field(min_length=10)
    references: tuple[Reference, ...] = Field(min_length=1)


class Member(_Strict):
    """One ingredient of the class. ``name`` is the canonical lower-case ingredient name."""

    name: str = Field(pattern=r"^[a-z][a-z0-9 ,'()-]*$")
    rxcui: str | None = Field(default=None, pattern=r"^[0-9]+$")  # RxNorm IN; null when unverified
    product_codes: tuple[
        str, ...
    ] = ()  # RxNorm SCD/SBD codes known to contain only this ingredient
    snomed: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    # Escalates the class indicator for this member (e.g. memantine in NMDA, barbiturates in CNSDEP).
    indicator: Indicator | None = None
    # Dose equivalence: mg of diazepam equal to 1 mg of this drug (table named in dose_policy).
    diazepam_mg_per_mg: float | None = Field(default=None, gt=0)
    note: str | None = None  # member-specific advice shown on the card (e.g. "never hold for OUD")


class Hold(_Strict):
    """Hold window around the infusion; hours are defaults a site may override."""

    before_hours: float = Field(ge=0, le=168)
    resume_after_hours: float | None = Field(default=None, ge=0, le=168)
    applies_to: Literal["all", "as-needed"] = "all"


class IndicatorPolicy(_Strict):
    default: Indicator
    # Used when every matching medication is taken as needed (and, for dosed classes, is low dose).
    as_needed: Indicator | None = None


class Summaries(_Strict):
    """Summary templates (< 140 characters once filled). Placeholders: {drugs} {hold_hours}."""

    default: str = Field(min_length=10, max_length=139)
    light: str | None = Field(default=None, max_length=139)  # as-needed / low dose
    strong: str | None = Field(default=None, max_length=139)  # regular daily use or high dose


class DosePolicy(_Strict):
    """How dose and duration shape the card (benzodiazepines)."""

    equivalence_table: str = Field(
        min_length=5
    )  # the published table the members' factors come from
    equivalence_url: HttpUrl
    high_dose_mg_per_day: float = Field(gt=0)  # diazepam equivalents; attenuation reported above ~8
    regular_use_days: int = Field(
        default=14, ge=1
    )  # taken at least this long counts as regular use


class SuggestionSpec(_Strict):
    kind: SuggestionKind
    label: str = Field(min_length=3, max_length=80)
    is_recommended: bool = False


NON_ADHERENCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


class OverrideReason(_Strict):
    code: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    display: str = Field(min_length=3)
    # The HL7 non-adherence-reason-codes system (CDS Hooks 3.0 ballot) where a standard code fits;
    # absent: the knowledge base's own override_reason_system.
    system: Literal["http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"] | None = (
        None
    )


class RuleSpec(_Strict):
    """One interacting class (or the data-gap card): everything a card needs, as data."""

    id: str = Field(pattern=TOPIC_PATTERN)  # the stable topic code, e.g. "BZD"; never reused
    kind: Literal["interaction", "data-gap"] = "interaction"
    version: int = Field(ge=1)
    status: Literal["draft", "active", "retired"]
    title: str = Field(min_length=3)
    hooks: tuple[Literal["order-select", "order-sign"], ...] = ("order-select", "order-sign")
    members: tuple[Member, ...] = ()
    indicator: IndicatorPolicy
    summary: Summaries
    recommendation: str = Field(min_length=10)  # markdown
    do_not_stop: str | None = None  # withdrawal / relapse safety wording, shown prominently
    monitoring: str | None = None
    hold: Hold | None = None
    washout_days: int = Field(
        default=0, ge=0, le=365
    )  # a stopped/completed record counts this long
    dose_policy: DosePolicy | None = None
    evidence: Evidence
    override_reasons: tuple[OverrideReason, ...] = Field(min_length=1)
    suggestions: tuple[SuggestionSpec, ...] = ()
    # The one or two actions the default (concise) card lists, in a few words each; the full
    # recommendation is shown with CDS_CARD_DETAIL=full. Keep them consistent with it.
    actions: tuple[Annotated[str, Field(min_length=10, max_length=160)], ...] = Field(
        default=(), max_length=2
    )
    # Must interrupt the prescriber: the only cards a profile keeps critical (Oracle Health shows a
    # critical card as a pop-up). Elsewhere the indicator alone decides.
    interruptive: bool = False
    known_gaps: tuple[str, ...] = ()
    owner: str = Field(min_length=2)
    reviewed: date

    @model_validator(mode="after")
    def _members_fit_kind(self) -> RuleSpec:
        if self.kind == "interaction" and not self.members:
            raise ValueError("members: an interaction class needs at least one member")
        if self.kind == "data-gap" and self.members:
            raise ValueError("members: the data-gap card has no members")
        return self


class CombinationGroup(_Strict):
    """One kind of drug in a combination: every member of some classes, or named ingredients."""

    name: str = Field(min_length=3)  # how the card names the kind, e.g. "an opioid"
    topics: tuple[str, ...] = ()
    ingredients: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _names_something(self) -> CombinationGroup:
        if not self.topics and not self.ingredients:
            raise ValueError("a group needs topics or ingredients")
        return self


class Combination(_Strict):
    """Drugs that are riskier together than apart: raises the cards of every class involved."""

    id: str = Field(pattern=TOPIC_PATTERN)  # stable; a site may disable it in CDS_RULE_OVERRIDES
    title: str = Field(min_length=5)
    groups: tuple[CombinationGroup, ...] = Field(min_length=2)
    min_groups: int = Field(default=2, ge=2)
    indicator: Indicator
    advice: str = Field(min_length=10)
    evidence: Evidence


class Manifest(_Strict):
    """``cards/knowledge-base.yaml``: what the whole knowledge base is and what it was checked against."""

    name: str
    version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    rxnorm_version: str = Field(min_length=4)  # RxNorm release the codes were checked against
    checked_on: date
    topic_system: str = Field(pattern=r"^(https?|urn):")  # card source.topic.system, stable
    override_reason_system: str = Field(pattern=r"^(https?|urn):")
    source_label: str
    source_url: HttpUrl | None = (
        None  # about the organisation; each site sets its own (CDS_SOURCE_URL)
    )
    ketamine: KetamineTerms
    combinations: tuple[Combination, ...] = ()


class KetamineTerms(_Strict):
    """How a draft order is recognised as ketamine (or esketamine)."""

    rxcui: tuple[str, ...] = Field(min_length=1)  # ingredient code(s)
    product_codes: tuple[str, ...] = ()  # RxNorm SCD/SBD
    snomed: tuple[str, ...] = ()
    names: tuple[str, ...] = Field(min_length=1)  # ingredient and brand names, lower case
    esketamine_rxcui: tuple[str, ...] = ()
    esketamine_snomed: tuple[str, ...] = ()
    esketamine_names: tuple[str, ...] = ()
    infusion_service_terms: tuple[
        str, ...
    ] = ()  # words that make a ServiceRequest a ketamine infusion


Manifest.model_rebuild()


class CaseGiven(_Strict):
    """The situation of a case: FHIR resources inline, as an EHR would send them."""

    medications: tuple[
        dict[str, Any], ...
    ] = ()  # MedicationStatement / MedicationRequest resources
    order: dict[str, Any] | None = (
        None  # the ketamine draft order; a default order is used when absent
    )
    now: str | None = None  # ISO 8601 evaluation time; a fixed default when absent
    overrides: dict[str, Any] | None = None  # site overrides for this class (RuleOverride fields)


class CaseExpect(_Strict):
    outcome: Literal["fires", "silent", "todo"]
    indicator: Indicator | None = None
    summary_contains: tuple[str, ...] = ()
    detail_contains: tuple[str, ...] = ()


class Case(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str | None = None
    given: CaseGiven
    expect: CaseExpect


class CaseFile(_Strict):
    rule: str = Field(pattern=TOPIC_PATTERN)
    cases: tuple[Case, ...] = Field(min_length=1)


RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
IngredientName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9 ,'()-]*$")]
RxNormCode = Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]


class ProductSource(_Strict):
    """One published value set a product-code table was derived from."""

    file: str = Field(min_length=5)
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    expanded: date  # the value set's expansion timestamp (its RxNorm snapshot)
    codes: int = Field(ge=1)  # products this source contributed to the table


class ProductCodeTable(_Strict):
    """``cards/valuesets/*.yaml``: RxNorm product codes (SCD/SBD/GPCK/BPCK) -> their known ingredients.

    Generated by ``scripts/build_product_codes.py``; a product coded only by such a code is still classified.
    """

    system: Literal["http://www.nlm.nih.gov/research/umls/rxnorm"]
    rxnorm_version: str = Field(min_length=4)
    generated_on: date
    generator: str = Field(min_length=5)
    licence: str = Field(min_length=5)
    sources: tuple[ProductSource, ...] = Field(min_length=1)
    products: dict[RxNormCode, tuple[IngredientName, ...]] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_product_names_an_ingredient(self) -> ProductCodeTable:
        empty = sorted(code for code, names in self.products.items() if not names)
        if empty:
            raise ValueError(f"products.{empty[0]}: lists no ingredient")
        return self
