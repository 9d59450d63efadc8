"""A class's dose model: one equivalence table (reference drug, a factor per member) and its levels."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from cds_service.rules.schema.common import Strict


class DoseLevel(Strict):
    """A daily equivalent at which the card's dose wording changes."""

    threshold: float = Field(gt=0, description="Reference-drug units per day (e.g. 50 MME/day).")
    inclusive: bool = Field(
        default=True, description="true: at or above the threshold; false: strictly above it."
    )
    wording: str = Field(
        min_length=10,
        description="What the card says once the level is reached, naming its source honestly.",
    )


class DosePolicy(Strict):
    """How dose and duration shape the card: an equivalence table and the levels that change it."""

    reference_drug: str = Field(
        min_length=3, description='What the equivalents are of: "diazepam", "oral morphine".'
    )
    label: str = Field(
        min_length=3,
        description='How the card names the figure: "Diazepam-equivalent", "Oral morphine '
        'equivalent".',
    )
    unit: str = Field(min_length=3, description='The figure\'s unit: "mg/day", "MME/day".')
    equivalence_table: str = Field(
        min_length=5, description="The published table the members' dose factors come from."
    )
    equivalence_url: HttpUrl = Field(description="Where that table can be read.")
    high_dose_mg_per_day: float = Field(
        gt=0,
        description="Daily equivalent (reference units) above which the strong summary is used "
        "for scheduled use; a site may change it (CDS_RULE_OVERRIDES high_dose_mg_per_day).",
    )
    levels: tuple[DoseLevel, ...] = Field(
        default=(),
        description="Wording by level, lowest first; the highest level reached is shown.",
    )
    below_wording: str | None = Field(
        default=None, description="What the card says when no level is reached."
    )
    regular_use_days: int = Field(
        default=14, ge=1, description="Taken at least this many days counts as regular use."
    )
    caution: str | None = Field(
        default=None,
        description="A caution the table itself gives (CDC: MME are estimates, not for switching "
        "one opioid to another), shown with the figure in the full detail.",
    )


class Depot(Strict):
    """A long-acting injectable form of a member: one injection acts for weeks."""

    words: tuple[str, ...] = Field(
        min_length=1,
        description="Product names or words that make a record this member's long-acting "
        'injectable ("vivitrol", "prefilled syringe" for buprenorphine, "pamoate" for '
        "olanzapine); matched as whole words in the record's names.",
    )
    acts_days: int = Field(
        ge=1,
        le=365,
        description="How long one injection acts: a record whose last injection is this recent "
        "counts as current, described by that injection, never as stopped.",
    )
