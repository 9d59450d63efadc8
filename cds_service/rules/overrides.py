"""Per-site overrides of the knowledge base's defaults (hold hours, washout, indicator, on/off).

A site changes numbers, never wording: the override model is part of the knowledge base's contract,
parsed from ``CDS_RULE_OVERRIDES`` by the settings and applied once, when the knowledge base is compiled.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from cds_service.rules.schema import Hold, Indicator, RuleSpec

SEVERITY: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}


class RuleOverride(BaseModel):
    """One site's changes to one class (or combination), keyed by its topic code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = Field(default=None, description="false turns the class off")
    hold_before_hours: float | None = Field(default=None, ge=0, le=168)
    resume_after_hours: float | None = Field(default=None, ge=0, le=168)
    washout_days: int | None = Field(default=None, ge=0, le=365)
    indicator: Indicator | None = None
    high_dose_mg_per_day: float | None = Field(default=None, gt=0)


def effective_rule(rule: RuleSpec, override: RuleOverride | None) -> RuleSpec:
    """The rule with the site's override applied; ``enabled: false`` makes it a draft (never fires)."""
    if override is None:
        return rule
    update: dict[str, object] = {}
    if override.enabled is False:
        update["status"] = "draft"
    if override.washout_days is not None:
        update["washout_days"] = override.washout_days
    hold = _overridden_hold(rule, override)
    if hold is not rule.hold:
        update["hold"] = hold
    if override.indicator is not None:
        update["indicator"] = _overridden_indicator(rule, override.indicator)
    if override.high_dose_mg_per_day is not None and rule.dose_policy is not None:
        update["dose_policy"] = rule.dose_policy.model_copy(
            update={"high_dose_mg_per_day": override.high_dose_mg_per_day}
        )
    return rule.model_copy(update=update) if update else rule


def _overridden_hold(rule: RuleSpec, override: RuleOverride) -> Hold | None:
    if override.hold_before_hours is None and override.resume_after_hours is None:
        return rule.hold
    base = rule.hold or Hold(before_hours=0)
    update: dict[str, object] = {}
    if override.hold_before_hours is not None:
        update["before_hours"] = override.hold_before_hours
    if override.resume_after_hours is not None:
        update["resume_after_hours"] = override.resume_after_hours
    return base.model_copy(update=update)


def _overridden_indicator(rule: RuleSpec, indicator: Indicator) -> object:
    # The as-needed indicator never ends up above the site's chosen default.
    as_needed = rule.indicator.as_needed
    if as_needed is not None and SEVERITY[as_needed] > SEVERITY[indicator]:
        as_needed = indicator
    return rule.indicator.model_copy(update={"default": indicator, "as_needed": as_needed})
