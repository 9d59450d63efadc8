"""``cards/patient/instructions.yaml``: the patient's instructions, as plain-language templates.

A site translates or rewords them without code. Each template names the placeholders it may use;
any other stops start-up (``kb check`` lists them with their field).
"""

from __future__ import annotations

import string

from pydantic import Field, model_validator

from cds_service.rules.schema.common import FieldProblem, Strict

Template = str
# field -> the placeholders it may use
HOLD_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "last_dose": frozenset({"medicine", "time", "day"}),
    "last_dose_untimed": frozenset({"medicine", "hours"}),
    "resume": frozenset({"medicine", "time", "day"}),
    "resume_untimed": frozenset({"medicine", "hours"}),
    "resume_when_awake": frozenset({"medicine"}),
    "keep": frozenset({"medicine"}),
    "opened": frozenset({"medicine", "hours"}),
}
PLAN_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "title": frozenset(),
    "session": frozenset({"time", "day"}),
    "session_untimed": frozenset({"day"}),
    "session_unknown": frozenset(),
    "zone": frozenset({"zone"}),
    "general": frozenset(),
    "no_changes": frozenset(),
    "medicine": frozenset({"ingredient", "brand"}),
    "medicine_no_brand": frozenset({"ingredient"}),
    "medicine_probable": frozenset({"written", "ingredient"}),
    "day_format": frozenset({"weekday", "day", "month"}),
    "time_format": frozenset({"hour", "minute", "period"}),
}


def check_placeholders(model: Strict, allowed: dict[str, frozenset[str]]) -> None:
    """Raise ``FieldProblem`` for the first template using a placeholder it may not."""
    for name, permitted in allowed.items():
        text = getattr(model, name)
        if text is None:
            continue
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise FieldProblem(name, str(exc)) from exc
        unknown = sorted(used - permitted)
        if unknown:
            known = ", ".join(f"{{{p}}}" for p in sorted(permitted)) or "none"
            raise FieldProblem(name, f"unknown placeholder {{{unknown[0]}}} (allowed: {known})")


class HoldWording(Strict):
    """What the patient is told for one held medicine, per kind of hold."""

    last_dose: Template = Field(
        min_length=5,
        description="The last dose before the infusion, at a clock time: {medicine}, {time}, {day}.",
    )
    last_dose_untimed: Template = Field(
        min_length=5,
        description="The same when the start time is not known: {medicine}, {hours}.",
    )
    resume: Template = Field(
        min_length=5, description="When to take it again, at a clock time: {time}, {day}."
    )
    resume_untimed: Template = Field(
        min_length=5, description="When to take it again, without clock times: {hours}."
    )
    resume_when_awake: Template = Field(
        min_length=5, description="When to take it again when the rule gives no hours."
    )
    keep: Template = Field(
        min_length=5,
        description="That the medicine is kept on other days; never 'stop' without 'do not'.",
    )
    opened: Template = Field(
        min_length=5,
        description="When the time to hold has already begun: no more doses, and tell the team "
        "when it was last taken: {medicine}, {hours}.",
    )

    @model_validator(mode="after")
    def _placeholders(self) -> HoldWording:
        check_placeholders(self, HOLD_PLACEHOLDERS)
        return self


class HoldWordingOverride(Strict):
    """One class's own wording for some of the sentences (the rest come from its kind of hold)."""

    last_dose: Template | None = Field(default=None, description="Replaces holds.*.last_dose.")
    last_dose_untimed: Template | None = Field(
        default=None, description="Replaces holds.*.last_dose_untimed."
    )
    resume: Template | None = Field(default=None, description="Replaces holds.*.resume.")
    resume_untimed: Template | None = Field(
        default=None, description="Replaces holds.*.resume_untimed."
    )
    resume_when_awake: Template | None = Field(
        default=None, description="Replaces holds.*.resume_when_awake."
    )
    keep: Template | None = Field(default=None, description="Replaces holds.*.keep.")
    opened: Template | None = Field(default=None, description="Replaces holds.*.opened.")

    @model_validator(mode="after")
    def _placeholders(self) -> HoldWordingOverride:
        check_placeholders(self, HOLD_PLACEHOLDERS)
        return self


class HoldKinds(Strict):
    """The wording for each kind of hold a rule declares (``hold.applies_to``)."""

    all: HoldWording = Field(description="Every dose waits (benzodiazepines, lamotrigine).")
    as_needed: HoldWording = Field(
        description="Only doses taken when needed wait; regular doses go on (opioids, sleep aids)."
    )


class PatientInstructions(Strict):
    """The patient's plan: one paragraph per held medicine and session, then what always applies."""

    language: str = Field(
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 language tag, e.g. en."
    )
    title: Template = Field(min_length=3, description="The plan's heading.")
    session: Template = Field(
        min_length=3, description="The session's line, at a clock time: {time}, {day}."
    )
    session_untimed: Template = Field(
        min_length=3, description="The session's line when only its date is known: {day}."
    )
    session_unknown: Template = Field(
        min_length=3, description="The session's line when it has no date yet."
    )
    zone: Template = Field(min_length=3, description="Which time zone the times are in: {zone}.")
    general: Template = Field(
        min_length=10,
        description="What always applies: tell the team about every other medicine, supplement, "
        "alcohol, cannabis or street drug.",
    )
    no_changes: Template = Field(
        min_length=10, description="Said instead when no medicine has to wait for this infusion."
    )
    medicine: Template = Field(
        min_length=3, description="A medicine with its brand: {ingredient}, {brand}."
    )
    medicine_no_brand: Template = Field(
        min_length=3, description="A medicine without a brand: {ingredient}."
    )
    medicine_probable: Template = Field(
        min_length=3,
        description="A medicine read through a misspelling: the entry as {written}, and the "
        "{ingredient} it was probably meant to be, with a request to check it.",
    )
    weekdays: tuple[str, str, str, str, str, str, str] = Field(
        description="Weekday names, Monday first."
    )
    months: tuple[str, str, str, str, str, str, str, str, str, str, str, str] = Field(
        description="Month names, January first."
    )
    am: str = Field(min_length=1, description="The morning mark of a 12-hour time.")
    pm: str = Field(min_length=1, description="The afternoon mark of a 12-hour time.")
    day_format: Template = Field(
        min_length=3, description="How a date reads: {weekday}, {day}, {month}."
    )
    time_format: Template = Field(
        min_length=3, description="How a time reads (12-hour): {hour}, {minute}, {period}."
    )
    holds: HoldKinds = Field(description="The sentences for each kind of hold.")
    topics: dict[str, HoldWordingOverride] = Field(
        default_factory=dict,
        description="A class's own sentences, by topic code; each must be a rule with a hold.",
    )

    @model_validator(mode="after")
    def _placeholders(self) -> PatientInstructions:
        check_placeholders(self, PLAN_PLACEHOLDERS)
        return self
