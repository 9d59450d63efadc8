"""``cards/rules/<TOPIC>.cases.yaml``: the cases beside a rule (must fire, must stay silent, known gaps)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from cds_service.rules.schema.common import TOPIC_PATTERN, FieldProblem, Indicator, Strict


class CaseGiven(Strict):
    """The situation of a case: FHIR resources inline, as an EHR would send them."""

    medications: tuple[dict[str, Any], ...] = Field(
        default=(), description="MedicationStatement / MedicationRequest resources (FHIR R4)."
    )
    order: dict[str, Any] | None = Field(
        default=None,
        description="The ketamine draft order; a default ketamine order is used when absent.",
    )
    conditions: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="The patient's Condition resources (FHIR R4), as the conditions prefetch sends "
        "them; a medication's reasonReference may point at one.",
    )
    observations: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="Social-history Observations (FHIR R4): alcohol use, AUDIT-C, substance use.",
    )
    now: str | None = Field(
        default=None, description="ISO 8601 evaluation time; a fixed default when absent."
    )
    overrides: dict[str, Any] | None = Field(
        default=None, description="Site overrides for this class (RuleOverride fields)."
    )


class CaseExpect(Strict):
    """What a correct evaluation of the case shows."""

    outcome: Literal["fires", "silent", "todo"] = Field(
        description="fires: one card of this topic; silent: none; todo: a known gap that should "
        "fire but does not yet."
    )
    indicator: Indicator | None = Field(
        default=None, description="The card's indicator; required when the case fires."
    )
    summary_contains: tuple[str, ...] = Field(
        default=(), description="Words the summary must contain (case-insensitive)."
    )
    detail_contains: tuple[str, ...] = Field(
        default=(), description="Words the detail must contain (case-insensitive)."
    )

    summary_excludes: tuple[str, ...] = Field(
        default=(), description="Words the summary must not contain (case-insensitive)."
    )
    detail_excludes: tuple[str, ...] = Field(
        default=(), description="Words the detail must not contain (case-insensitive)."
    )
    suggestions_exclude: tuple[str, ...] = Field(
        default=(),
        description='Words no suggestion label may contain (case-insensitive), e.g. "hold".',
    )

    @model_validator(mode="after")
    def _firing_case_states_indicator(self) -> CaseExpect:
        if self.outcome == "fires" and self.indicator is None:
            raise FieldProblem("indicator", "a case that fires states the expected indicator")
        return self


class Case(Strict):
    """One situation and what the rule must do in it."""

    name: str = Field(
        pattern=r"^[a-z0-9_]+$", description="snake_case, unique in the file; the test id."
    )
    description: str | None = Field(default=None, description="The situation in words.")
    given: CaseGiven = Field(description="The situation.")
    expect: CaseExpect = Field(description="The expected outcome.")


class CaseFile(Strict):
    """``cards/rules/<TOPIC>.cases.yaml``: every case of one rule."""

    rule: str = Field(
        pattern=TOPIC_PATTERN, description="The rule's topic code, equal to the file name."
    )
    cases: tuple[Case, ...] = Field(min_length=1, description="The cases.")
