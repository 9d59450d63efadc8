"""How a card states a class's dose: the daily equivalent, its maximum, and the level it reaches. Pure.

The usual figure is what the patient takes (one dose a day for as-needed use); a stated maximum is
said as a maximum. The wording at each level is the knowledge base's, which names its source.
"""

from __future__ import annotations

from cds_service.render.wording import duration_words, join_names
from cds_service.rules.findings import DoseAssessment


def dose_figure(dose: DoseAssessment) -> str:
    """ "about 20 mg/day (above the 8 mg/day linked to a blunted response)", or why it is unknown."""
    policy = dose.policy
    if dose.per_day is None:
        return f"not estimated ({unknown_reason(dose)})"
    figure = f"about {dose.per_day:g} {policy.unit}"
    if dose.all_as_needed:
        figure = f"about {dose.per_day:g} {policy.unit.split('/')[0]} a dose as needed"
    elif dose.counts_as_needed:
        figure += ", counting one as-needed dose"
    if dose.maximum_per_day is not None:
        figure += f"; at most {dose.maximum_per_day:g} {policy.unit}"
    level = dose.level
    wording = level.wording if level is not None else policy.below_wording
    return f"{figure} ({wording.strip()})" if wording else figure


def unknown_reason(dose: DoseAssessment) -> str:
    """Why no daily figure: a drug the table has no factor for, else a dose that is not coded."""
    if dose.without_factor:
        names = join_names(list(dose.without_factor), 3)
        return f"{names}: no factor in {short_table(dose)} for this product"
    return "the dose is not coded"


def short_table(dose: DoseAssessment) -> str:
    """The table's name up to its first comma or colon ("the CDC 2022 MME table")."""
    text = dose.policy.equivalence_table.strip()
    for mark in (":", ","):
        text = text.split(mark, 1)[0]
    return text


def dose_line(dose: DoseAssessment) -> str:
    """The concise form: "Diazepam-equivalent: about 20 mg/day (above the 8 mg/day ...)."."""
    return f"{dose.policy.label}: {dose_figure(dose)}."


def dose_paragraph(dose: DoseAssessment) -> str:
    """The full form: the figure, duration, kind of use, the table and its own caution."""
    days = dose.longest_days_taken
    duration = f"taken for {duration_words(days)}" if days is not None else "duration unknown"
    use = "as needed only" if dose.all_as_needed else "regular use"
    if dose.regular_daily_use:
        use = f"regular daily use for {dose.regular_use_days}+ days"
    policy = dose.policy
    text = (
        f"**Dose**: {policy.label} {dose_figure(dose)}; {duration}; {use}. "
        f"Equivalence: {policy.equivalence_table.strip()}."
    )
    return f"{text} {policy.caution.strip()}" if policy.caution else text
