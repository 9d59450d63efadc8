"""What stopping a class's drug means: the withdrawal risk after long regular use."""

from __future__ import annotations

from pydantic import Field

from cds_service.rules.schema.common import Indicator, Strict


class Withdrawal(Strict):
    """A drug stopped after long regular use can cause withdrawal (benzodiazepines: seizures)."""

    after_days: int = Field(
        ge=1,
        description="Regular (scheduled) use for at least this many days before the stop counts "
        "as long-term use.",
    )
    within_days: int = Field(
        ge=1,
        le=90,
        description="How long after the stop the risk is flagged (withdrawal can begin days after "
        "a long-acting drug is stopped); a record then counts even beyond washout_days.",
    )
    indicator: Indicator = Field(description="The card's indicator while the risk is flagged.")
    summary: str = Field(
        min_length=10,
        max_length=139,
        description="The summary when every record has stopped and one carries the risk; "
        "placeholder {drugs}.",
    )
    note: str = Field(
        min_length=10,
        description="What the card says about the risk and what to do (never: restart or stop).",
    )
