"""``cards/rules/<TOPIC>.yaml``: one interacting class (or the data-gap card) and everything its card says."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from cds_service.rules.schema.common import (
    INGREDIENT_PATTERN,
    TOPIC_PATTERN,
    Evidence,
    FieldProblem,
    Indicator,
    Status,
    Strict,
)
from cds_service.rules.schema.dose import Depot, DosePolicy
from cds_service.rules.schema.stopping import Withdrawal

SuggestionKind = Literal[
    "add-hold-instruction",  # update the whole draft ketamine order with a hold note
    "cancel-ketamine-order",  # delete the draft ketamine order (resourceId)
    "order-bp-monitoring",  # create a ServiceRequest for blood-pressure monitoring
    "order-spo2-monitoring",  # create a ServiceRequest for continuous pulse oximetry
]
TopicCode = Annotated[str, Field(pattern=TOPIC_PATTERN)]


class Member(Strict):
    """One ingredient of the class."""

    name: str = Field(
        pattern=INGREDIENT_PATTERN,
        description="Canonical lower-case ingredient name; the same ingredient has the same name "
        "in every class.",
    )
    rxcui: str | None = Field(
        default=None,
        pattern=r"^[0-9]+$",
        description="RxNorm ingredient (IN) code; null when unverified (then matched by name).",
    )
    product_codes: tuple[str, ...] = Field(
        default=(), description="RxNorm SCD/SBD codes known to contain only this ingredient."
    )
    snomed: tuple[str, ...] = Field(default=(), description="SNOMED CT codes.")
    brands: tuple[str, ...] = Field(
        default=(), description="Brand names matched in free text (case-insensitive)."
    )
    synonyms: tuple[str, ...] = Field(
        default=(), description="Other names, salts and spellings matched in free text."
    )
    indicator: Indicator | None = Field(
        default=None,
        description="Escalates the class indicator for this member (e.g. memantine in NMDA).",
    )
    dose_factor: float | None = Field(
        default=None,
        gt=0,
        description="Units of the class's reference drug (dose_policy) equal to 1 mg/day of this "
        "drug (1 mcg/h when dose_factor_unit is mcg/h), from the table dose_policy names; null "
        "when the table has no factor (the card then says the dose is not estimated).",
    )
    dose_factor_unit: Literal["mg/day", "mcg/h"] = Field(
        default="mg/day",
        description="What the factor multiplies: the daily dose in mg, or a patch's rate in mcg/h.",
    )
    dose_factor_forms: tuple[str, ...] = Field(
        default=(),
        description="Product words the factor is limited to (transdermal fentanyl: transdermal, "
        "patch); other forms of the drug get no factor. Empty: every form.",
    )
    note: str | None = Field(default=None, description="Member-specific advice shown on the card.")
    depot: Depot | None = Field(
        default=None,
        description="The member's long-acting injectable form (naltrexone ER, buprenorphine ER, "
        "antipsychotic depots) and how long one injection acts.",
    )
    do_not_stop: str | None = Field(
        default=None,
        description="Withdrawal or relapse safety wording for this member only, shown in the "
        "card's Important box when the patient currently takes it (the class's do_not_stop is "
        "for wording that holds for every member).",
    )
    substance: bool = Field(
        default=False,
        description="A substance used outside prescription (alcohol, cocaine, methamphetamine, "
        "MDMA, cannabis): never given a hold window or dose wording; the card takes the class's "
        "substance summary and actions (defer or abstain) when only such records are current.",
    )
    label: str | None = Field(
        default=None,
        min_length=2,
        description="How the summary names the member when it differs from the ingredient name "
        '(ethanol: "alcohol").',
    )
    also_in: tuple[TopicCode, ...] = Field(
        default=(),
        description="Other classes this ingredient is deliberately also a member of, because "
        "each card says something different; declared on both sides. Any other ingredient "
        "shared between classes stops start-up.",
    )


class IndicatorPolicy(Strict):
    """How urgent the class card is."""

    default: Indicator = Field(description="The card's indicator.")
    as_needed: Indicator | None = Field(
        default=None,
        description="Used instead when every matching medication is taken as needed (and, for "
        "dosed classes, at a low dose).",
    )


class Summaries(Strict):
    """Summary templates, under 140 characters once filled; placeholders {drugs} and {hold_hours}."""

    default: str = Field(
        min_length=10, max_length=139, description="The summary; names the drugs and the action."
    )
    light: str | None = Field(
        default=None, max_length=139, description="For as-needed or low-dose use."
    )
    strong: str | None = Field(
        default=None, max_length=139, description="For regular daily or high-dose use."
    )
    washout: str | None = Field(
        default=None,
        max_length=139,
        description="When every record has stopped but is still inside the washout: keeps the "
        "class's action (an MAOI stopped 10 days ago still needs BP checks); absent: a generic "
        '"recently stopped ... review".',
    )
    substance: str | None = Field(
        default=None,
        max_length=139,
        description="When every current record is a substance member (street drugs, alcohol): "
        "what to ask or defer, never a hold; absent: the default template.",
    )
    heavy_use: str | None = Field(
        default=None,
        max_length=139,
        description="When every current record is a substance member and one is heavy use "
        "(patient-context.yaml: drinks a day, AUDIT-C, a use disorder); absent: substance.",
    )


class Hold(Strict):
    """Hold window around the infusion; the hours are defaults a site may override."""

    before_hours: float = Field(
        ge=0, le=168, description="Hours before the infusion start to hold the medication."
    )
    resume_after_hours: float | None = Field(
        default=None,
        ge=0,
        le=168,
        description="Hours after the infusion before resuming; null means after recovery.",
    )
    applies_to: Literal["all", "as-needed"] = Field(
        default="all",
        description="all, or as-needed when scheduled doses continue and only extra doses wait.",
    )


class SuggestionSpec(Strict):
    """A concrete action the card offers."""

    kind: SuggestionKind = Field(
        description="What the action does to the order (one of a fixed list the renderer builds)."
    )
    label: str = Field(min_length=3, max_length=80, description="The button text.")
    is_recommended: bool = Field(
        default=False, description="Marks the suggestion as the recommended one."
    )


NON_ADHERENCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


class OverrideReason(Strict):
    """A coded reason the clinician may give for not following the card."""

    code: str = Field(
        pattern=r"^[a-z0-9-]{2,40}$", description="Stable code under override_reason_system."
    )
    display: str = Field(min_length=3, description="What the clinician reads.")
    system: Literal["http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"] | None = (
        Field(
            default=None,
            description="The HL7 non-adherence-reason-codes system (CDS Hooks 3.0 ballot) where a "
            "standard code fits; absent: the manifest's own override_reason_system.",
        )
    )


class RuleSpec(Strict):
    """One interacting class (or the data-gap card): everything a card needs, as data."""

    id: str = Field(
        pattern=TOPIC_PATTERN,
        description="The topic code, equal to the file name and listed in topics.yaml; never reused.",
    )
    kind: Literal["interaction", "data-gap"] = Field(
        default="interaction",
        description="interaction (a class with members) or data-gap (DATAGAP only, no members).",
    )
    version: int = Field(
        ge=1, description="Bumped when the advice changes; recorded with every audited card."
    )
    status: Status = Field(
        description="active produces cards; shadow is evaluated and audited (would have fired) "
        "but never returned to the EHR, to pilot a new class; draft is loaded but never fires; "
        "retired is kept so the id is never reused; must match topics.yaml."
    )
    title: str = Field(min_length=3, description="Human name of the class.")
    hooks: tuple[Literal["order-select", "order-sign"], ...] = Field(
        default=("order-select", "order-sign"), description="The hooks the card is shown on."
    )
    members: tuple[Member, ...] = Field(default=(), description="The ingredients of the class.")
    indicator: IndicatorPolicy = Field(description="How urgent the card is.")
    summary: Summaries = Field(description="The summary templates.")
    recommendation: str = Field(min_length=10, description="Markdown shown in the card detail.")
    do_not_stop: str | None = Field(
        default=None,
        description="Withdrawal or relapse safety wording that holds for every member, shown "
        "prominently while the patient takes one; member-specific wording goes on the member.",
    )
    monitoring: str | None = Field(
        default=None, description="What to watch during and after the infusion."
    )
    hold: Hold | None = Field(default=None, description="The hold window; null when none.")
    washout_days: int = Field(
        default=0,
        ge=0,
        le=365,
        description="A stopped or completed record still counts this many days after its end.",
    )
    withdrawal: Withdrawal | None = Field(
        default=None,
        description="The withdrawal risk of a drug stopped after long regular use (benzodiazepines: "
        "seizures), flagged for a while after the stop.",
    )
    dose_policy: DosePolicy | None = Field(
        default=None,
        description="How dose shapes the card: the class's equivalence table (diazepam for "
        "benzodiazepines, oral morphine for opioids) and the levels where the wording changes.",
    )
    evidence: Evidence = Field(description="The grade and sources of the advice.")
    override_reasons: tuple[OverrideReason, ...] = Field(
        min_length=1, description="Coded reasons offered when the clinician overrides the card."
    )
    suggestions: tuple[SuggestionSpec, ...] = Field(
        default=(), description="Concrete actions the card offers."
    )
    actions: tuple[Annotated[str, Field(min_length=10, max_length=160)], ...] = Field(
        default=(),
        max_length=2,
        description="The one or two actions the default (concise) card lists, a few words each; "
        "the full recommendation is shown with CDS_CARD_DETAIL=full. Keep them consistent with it.",
    )
    washout_actions: tuple[Annotated[str, Field(min_length=10, max_length=160)], ...] = Field(
        default=(),
        max_length=2,
        description="The concise card's actions when every record has stopped but is inside the "
        "washout (nothing is continued or held any more); empty: none.",
    )
    substance_actions: tuple[Annotated[str, Field(min_length=10, max_length=160)], ...] = Field(
        default=(),
        max_length=2,
        description="The concise card's actions when every current record is a substance member "
        "(defer the infusion after recent use; abstain for a day); empty: actions.",
    )
    light_actions: tuple[Annotated[str, Field(min_length=10, max_length=160)], ...] | None = Field(
        default=None,
        max_length=2,
        description="The concise card's actions when every record is taken as needed (the light "
        "summary), when they differ from actions; an empty list shows none. Null: actions.",
    )
    interruptive: bool = Field(
        default=False,
        description="Must interrupt the prescriber: the only cards a profile keeps critical (Oracle "
        "Health shows a critical card as a pop-up).",
    )
    known_gaps: tuple[str, ...] = Field(
        default=(),
        description="What the rule cannot see; each should have a todo case where it can be "
        "expressed.",
    )
    owner: str = Field(min_length=2, description="Who answers for the rule.")
    reviewed: date = Field(description="When the rule was last reviewed.")

    @model_validator(mode="after")
    def _members_fit_kind(self) -> RuleSpec:
        if self.kind == "interaction" and not self.members:
            raise FieldProblem("members", "an interaction class needs at least one member")
        if self.kind == "data-gap" and self.members:
            raise FieldProblem("members", "the data-gap card has no members")
        return self
