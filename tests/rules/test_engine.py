"""Engine: counting, washout, one finding per class, dose/variant/indicator, holds, site overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from cds_service.cdshooks.registry import HookRegistry
from cds_service.clinical.types import KetamineOrder, MedicationFact
from cds_service.rules.engine import evaluate
from cds_service.rules.findings import Evaluation
from cds_service.rules.knowledge import compile_knowledge_base
from cds_service.rules.overrides import RuleOverride, effective_rule
from cds_service.rules.schema import RuleSpec
from tests.rule_builders import NOW, START, make_fact, make_kb, make_order, make_rule


def _run(
    facts: list[MedicationFact],
    *rules: RuleSpec,
    hook: str = "order-sign",
    policy: Mapping[str, RuleOverride] | None = None,
    order: KetamineOrder | None = None,
) -> Evaluation:
    kb = compile_knowledge_base(make_kb(*(rules or (make_rule(),))), policy)
    return evaluate(kb, facts, order or make_order(), hook=hook, now=NOW)


@pytest.mark.parametrize("status", ["active", "intended", "on-hold", "unknown", ""])
def test_evaluate_current_status_counts(status):
    evaluation = _run([make_fact(status=status)])
    assert [f.rule.id for f in evaluation.findings] == ["BZD"]
    assert not evaluation.findings[0].matches[0].within_washout


@pytest.mark.parametrize("status", ["entered-in-error", "not-taken", "cancelled", "draft"])
def test_evaluate_excluded_status_never_counts(status):
    assert _run([make_fact(status=status, ended=NOW)]).findings == ()


@pytest.mark.parametrize("status", ["stopped", "completed"])
def test_evaluate_stopped_within_washout_counts_as_washout(status):
    evaluation = _run([make_fact(status=status, ended=NOW - timedelta(days=2))])
    match = evaluation.findings[0].matches[0]
    assert match.within_washout
    assert evaluation.findings[0].hold is None  # nothing left to hold


def test_evaluate_stopped_outside_washout_is_silent():
    assert _run([make_fact(status="stopped", ended=NOW - timedelta(days=4))]).findings == ()


def test_evaluate_stopped_without_end_uses_start_date():
    recent = make_fact(status="stopped", started=NOW - timedelta(days=1))
    old = make_fact(status="stopped", started=NOW - timedelta(days=40), ident="2")
    assert len(_run([recent]).findings) == 1
    assert _run([old]).findings == ()


def test_evaluate_stopped_without_any_date_is_silent():
    assert _run([make_fact(status="stopped")]).findings == ()


def test_evaluate_zero_washout_never_counts_stopped():
    rule = make_rule(washout_days=0)
    assert _run([make_fact(status="stopped", ended=NOW)], rule).findings == ()


def test_evaluate_naive_dates_read_as_utc():
    naive_end = (NOW - timedelta(days=1)).replace(tzinfo=None)
    assert len(_run([make_fact(status="completed", ended=naive_end)]).findings) == 1


def test_evaluate_two_drugs_of_one_class_give_one_finding():
    facts = [make_fact("clonazepam"), make_fact("lorazepam", ident="2")]
    evaluation = _run(facts)
    assert len(evaluation.findings) == 1
    assert {m.member.name for m in evaluation.findings[0].matches} == {"clonazepam", "lorazepam"}


def test_evaluate_drug_in_two_classes_appears_in_both():
    aed = make_rule("AED", members=[{"name": "carbamazepine"}], dose_policy=None)
    cyp = make_rule("CYPIND", members=[{"name": "carbamazepine"}], dose_policy=None)
    evaluation = _run([make_fact("carbamazepine")], aed, cyp)
    assert [f.rule.id for f in evaluation.findings] == ["AED", "CYPIND"]


def test_evaluate_unrelated_drug_is_silent():
    assert _run([make_fact("sertraline")]).findings == ()


def test_evaluate_rule_for_other_hook_is_skipped():
    rule = make_rule(hooks=["order-sign"])
    assert _run([make_fact()], rule, hook="order-select").findings == ()


@pytest.mark.parametrize("status", ["draft", "retired"])
def test_evaluate_inactive_rule_is_skipped(status):
    assert _run([make_fact()], make_rule(status=status)).findings == ()


def test_evaluate_disabled_by_site_is_skipped():
    policy = {"BZD": RuleOverride(enabled=False)}
    assert _run([make_fact()], policy=policy).findings == ()


def test_evaluate_rule_that_raises_is_reported_and_others_still_run(monkeypatch):
    import cds_service.rules.engine as engine

    original = engine.match_rule

    def broken(rule, members, facts, now, start=None):
        if rule.id == "BZD":
            raise ValueError("boom")
        return original(rule, members, facts, now, start)

    monkeypatch.setattr(engine, "match_rule", broken)
    other = make_rule("LTG", members=[{"name": "clonazepam"}])
    evaluation = _run([make_fact()], make_rule(), other)
    assert [f.rule.id for f in evaluation.findings] == ["LTG"]
    assert evaluation.failures == ("BZD: ValueError",)  # the type only: messages may quote records


def test_evaluate_prn_low_dose_is_light_info():
    finding = _run([make_fact(as_needed=True, daily_mg=0.25)]).findings[0]
    assert (finding.variant, finding.indicator) == ("light", "info")
    assert finding.dose is not None
    assert finding.dose.per_day == pytest.approx(5.0)


def test_evaluate_prn_unknown_dose_is_still_light():
    finding = _run([make_fact(as_needed=True)]).findings[0]
    assert finding.variant == "light"
    assert finding.dose is not None
    assert finding.dose.per_day is None


def test_evaluate_prn_high_dose_stays_as_needed_but_warns():
    # As-needed use is never called regular; a high dose raises the indicator instead.
    finding = _run([make_fact(as_needed=True, daily_mg=1.0)]).findings[0]
    assert (finding.variant, finding.indicator) == ("light", "warning")
    assert finding.dose is not None
    assert finding.dose.high_dose


def test_evaluate_regular_use_for_weeks_is_strong():
    fact = make_fact(daily_mg=0.1, started=NOW - timedelta(days=30))
    finding = _run([fact]).findings[0]
    assert finding.variant == "strong"
    assert finding.dose is not None
    assert finding.dose.regular_daily_use
    assert finding.matches[0].days_taken == 30


def test_evaluate_recent_regular_low_dose_is_default():
    fact = make_fact(daily_mg=0.1, started=NOW - timedelta(days=3))
    finding = _run([fact]).findings[0]
    assert (finding.variant, finding.indicator) == ("default", "warning")


def test_evaluate_regular_without_coded_dose_is_unknown():
    facts = [make_fact(), make_fact("lorazepam", as_needed=True, daily_mg=1, ident="2")]
    finding = _run(facts).findings[0]
    assert finding.dose is not None
    assert finding.dose.per_day is None


def test_evaluate_dose_sums_over_drugs():
    facts = [
        make_fact(as_needed=True, daily_mg=0.25),
        make_fact("lorazepam", as_needed=True, daily_mg=0.5, ident="2"),
    ]
    finding = _run(facts).findings[0]
    assert finding.dose is not None
    assert finding.dose.per_day == pytest.approx(10.0)
    assert (finding.variant, finding.indicator) == ("light", "warning")


def test_evaluate_member_without_equivalence_leaves_dose_unknown():
    finding = _run([make_fact("midazolam", daily_mg=5)]).findings[0]
    assert finding.dose is not None
    assert finding.dose.per_day is None


def test_evaluate_member_escalation_raises_indicator():
    finding = _run([make_fact("carbamazepine", as_needed=True)]).findings[0]
    assert finding.indicator == "critical"


def test_evaluate_undosed_class_prn_uses_as_needed_indicator():
    rule = make_rule(
        "ZDRUG", dose_policy=None, indicator={"default": "warning", "as_needed": "info"}
    )
    prn = _run([make_fact(as_needed=True)], rule).findings[0]
    regular = _run([make_fact()], rule).findings[0]
    assert (prn.variant, prn.indicator) == ("light", "info")
    assert (regular.variant, regular.indicator) == ("default", "warning")


def test_evaluate_hold_with_known_start_gives_clock_times():
    hold = _run([make_fact()]).findings[0].hold
    assert hold is not None
    assert hold.hold_from == START - timedelta(hours=12)
    assert hold.resume_after == START + timedelta(hours=4)


def test_evaluate_hold_without_start_is_relative():
    hold = _run([make_fact()], order=make_order(start=None)).findings[0].hold
    assert hold is not None
    assert (hold.before_hours, hold.hold_from, hold.resume_after) == (12, None, None)


def test_evaluate_class_without_hold_has_none():
    assert _run([make_fact()], make_rule(hold=None)).findings[0].hold is None


def test_evaluate_as_needed_hold_skips_regular_only_patient():
    rule = make_rule(hold={"before_hours": 4, "applies_to": "as-needed"})
    assert _run([make_fact()], rule).findings[0].hold is None
    hold = _run([make_fact(as_needed=True)], rule).findings[0].hold
    assert hold is not None
    assert hold.as_needed_only
    assert hold.resume_after is None


def test_effective_rule_applies_every_override():
    override = RuleOverride(
        hold_before_hours=24,
        resume_after_hours=6,
        washout_days=10,
        indicator="critical",
        high_dose_mg_per_day=20,
    )
    rule = effective_rule(make_rule(), override)
    assert rule.hold is not None
    assert (rule.hold.before_hours, rule.hold.resume_after_hours) == (24, 6)
    assert rule.washout_days == 10
    assert rule.indicator.default == "critical"
    assert rule.dose_policy is not None
    assert rule.dose_policy.high_dose_mg_per_day == 20


def test_effective_rule_without_override_is_unchanged():
    rule = make_rule()
    assert effective_rule(rule, None) is rule


def test_effective_rule_adds_hold_to_class_without_one():
    rule = effective_rule(make_rule(hold=None), RuleOverride(hold_before_hours=6))
    assert rule.hold is not None
    assert rule.hold.before_hours == 6


def test_effective_rule_lower_indicator_caps_as_needed():
    rule = effective_rule(
        make_rule(indicator={"default": "critical", "as_needed": "warning"}),
        RuleOverride(indicator="info"),
    )
    assert (rule.indicator.default, rule.indicator.as_needed) == ("info", "info")


def test_evaluate_site_washout_override_counts_older_stop():
    fact = make_fact(status="stopped", ended=NOW - timedelta(days=8))
    policy = {"BZD": RuleOverride(washout_days=14)}
    assert _run([fact]).findings == ()
    assert len(_run([fact], policy=policy).findings) == 1


def test_evaluate_site_hold_zero_removes_hold():
    policy = {"BZD": RuleOverride(hold_before_hours=0)}
    assert _run([make_fact()], policy=policy).findings[0].hold is None


def test_evaluate_legacy_medication_prescribe_counts_as_order_select():
    spec = HookRegistry.discover().get("medication-prescribe")
    assert spec is not None
    rule = make_rule(hooks=["order-select"])
    assert len(_run([make_fact()], rule, hook=spec.rules_hook).findings) == 1


@pytest.mark.parametrize(("days_ago", "counted"), [(14, True), (27, True), (29, False)])
def test_evaluate_completed_depot_counts_as_current_while_it_acts(days_ago, counted):
    fact = replace(
        make_fact(status="completed", ended=NOW - timedelta(days=days_ago)), depot_days=28
    )
    findings = _run([fact]).findings
    assert bool(findings) is counted
    if counted:
        assert not findings[0].matches[0].within_washout


def test_evaluate_completed_record_without_depot_uses_the_washout():
    fact = make_fact(status="completed", ended=NOW - timedelta(days=14))
    assert _run([fact]).findings == ()


def _stopped(days_ago: int, used_days: int, **changes: Any) -> MedicationFact:
    ended = NOW - timedelta(days=days_ago)
    return make_fact(
        status="stopped", started=ended - timedelta(days=used_days), ended=ended, **changes
    )


WITHDRAWAL = {
    "after_days": 14,
    "within_days": 14,
    "indicator": "warning",
    "summary": "{drugs} stopped after long use: withdrawal risk",
    "note": "Check for withdrawal before the infusion.",
}


@pytest.mark.parametrize(
    ("fact", "flagged"),
    [
        (_stopped(10, 200), True),  # beyond the 3-day washout, inside the 14-day window
        (_stopped(2, 200), True),
        (_stopped(20, 200), False),  # past the window
        (_stopped(2, 5), False),  # short use
        (_stopped(2, 200, as_needed=True), False),  # as-needed use is not long-term daily use
    ],
)
def test_evaluate_withdrawal_risk_after_long_regular_use(fact, flagged):
    findings = _run([fact], make_rule(withdrawal=WITHDRAWAL)).findings
    assert any(f.withdrawal for f in findings) is flagged
    if flagged:
        assert findings[0].indicator == "warning"


def test_candidates_give_each_class_its_records_in_list_order_and_each_once():
    stim = make_rule("STIM", members=[{"name": "modafinil"}], dose_policy=None)
    kb = compile_knowledge_base(make_kb(make_rule(), stim))
    two_bzd = replace(make_fact(ident="2"), ingredients=frozenset({"clonazepam", "lorazepam"}))
    bzd_and_stim = replace(make_fact(ident="4"), ingredients=frozenset({"clonazepam", "modafinil"}))
    facts = [make_fact("lorazepam", ident="1"), make_fact("sertraline", ident="9"), two_bzd]
    facts += [make_fact("modafinil", ident="3"), bzd_and_stim]
    found = kb.candidates(facts)
    assert {topic: [f.reference for f in records] for topic, records in found.items()} == {
        "BZD": [facts[0].reference, two_bzd.reference, bzd_and_stim.reference],
        "STIM": [facts[3].reference, bzd_and_stim.reference],
    }


def test_candidates_include_a_shadow_class_and_leave_out_a_class_the_site_disabled():
    stim = make_rule("STIM", members=[{"name": "modafinil"}], dose_policy=None)
    opioid = make_rule("OPI", members=[{"name": "oxycodone"}], dose_policy=None)
    shadow = opioid.model_copy(update={"status": "shadow"})
    kb = compile_knowledge_base(
        make_kb(make_rule(), stim, shadow), {"STIM": RuleOverride(enabled=False)}
    )
    facts = [make_fact("lorazepam", ident="1"), make_fact("modafinil", ident="2")]
    facts.append(make_fact("oxycodone", ident="3"))
    found = kb.candidates(facts)
    assert {topic: [f.reference for f in records] for topic, records in found.items()} == {
        "BZD": [facts[0].reference],
        "OPI": [facts[2].reference],
    }


def test_evaluate_judges_a_record_given_twice_twice_as_before_the_index():
    # The index must not change what a class finds, even for a caller that repeats a record.
    fact = make_fact("clonazepam")
    assert len(_run([fact, fact]).findings[0].matches) == 2


def test_evaluate_with_a_record_that_cannot_be_indexed_reports_each_rule_and_raises_nothing():
    stim = make_rule("STIM", members=[{"name": "modafinil"}], dose_policy=None)
    broken = replace(make_fact(), ingredients=None)  # type: ignore[arg-type]
    evaluation = _run([broken], make_rule(), stim)
    assert evaluation.findings == ()
    assert [failure.split(":")[0] for failure in evaluation.failures] == ["BZD", "STIM"]


def test_a_finding_replaced_with_other_matches_reads_its_own_current_and_held_matches():
    # The derived views are kept on the finding once asked for; a replaced finding must not inherit
    # them, and two findings that differ only in what was asked of them stay equal.
    stopped = make_fact(status="stopped", ended=NOW - timedelta(days=2), ident="2")
    finding = _run([make_fact(), stopped]).findings[0]
    untouched = _run([make_fact(), stopped]).findings[0]
    assert [m.fact.reference for m in finding.current_matches] == [
        finding.matches[0].fact.reference
    ]
    assert finding.held == finding.current_matches
    washout_only = replace(finding, matches=finding.matches[1:])
    assert washout_only.current_matches == ()
    assert washout_only.held == ()
    assert finding == untouched
