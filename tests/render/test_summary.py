"""Summary lines: a combination the card takes part in reaches the line, first when space is short."""

from __future__ import annotations

from cds_service.render.summary import SUMMARY_MAX, fit_clauses, summary_text
from cds_service.rules.findings import CombinationAlert, Finding, Match
from cds_service.rules.schema import Combination
from tests.rule_builders import make_fact, make_rule

RESPDEP = Combination.model_validate(
    {
        "id": "RESPDEP",
        "title": "Combined respiratory depression",
        "groups": [
            {"name": "benzodiazepine", "topics": ["BZD"]},
            {"name": "opioid", "ingredients": ["oxycodone"]},
        ],
        "indicator": "warning",
        "summary": "with {others}: combined respiratory risk",
        "advice": "Monitor SpO2 continuously.",
        "evidence": {
            "grade": "A",
            "summary": "Grade A: FDA boxed warnings.",
            "references": [{"citation": "FDA 2016", "url": "https://www.fda.gov/"}],
        },
    }
)
ALERT = CombinationAlert(RESPDEP, (("benzodiazepine", ("clonazepam",)), ("opioid", ("oxycodone",))))


def _finding(template: str) -> Finding:
    rule = make_rule(summary={"default": template})
    fact = make_fact()
    match = Match(fact, rule.members[0], False, None, None)
    return Finding(rule, (match,), "warning", "default", None, None, alerts=(ALERT,))


def test_summary_when_combination_fits_adds_it_after_the_class_summary() -> None:
    text = summary_text(_finding("Hold {drugs} before ketamine"), "clonazepam")
    assert text == "Hold clonazepam before ketamine; with oxycodone: combined respiratory risk"


def test_summary_when_line_would_be_too_long_puts_the_combination_first() -> None:
    text = summary_text(_finding("Hold {drugs} " + "word " * 24), "clonazepam")
    assert text.startswith("With oxycodone: combined respiratory risk. Hold clonazepam")
    assert len(text) <= SUMMARY_MAX


def test_fit_clauses_leaves_out_whole_clauses_from_the_end_never_a_do_not() -> None:
    text = (
        "With clonazepam +1: combined respiratory risk, SpO2. Heavy alcohol use: sedation and "
        "withdrawal risk with ketamine; do not stop abruptly; assess before the infusion"
    )
    fitted = fit_clauses(text, SUMMARY_MAX)
    assert fitted == (
        "With clonazepam +1: combined respiratory risk, SpO2. Heavy alcohol use: sedation and "
        "withdrawal risk with ketamine; do not stop abruptly"
    )
    assert not fitted.endswith("…")


def test_fit_clauses_cuts_with_an_ellipsis_when_only_kept_clauses_remain() -> None:
    fitted = fit_clauses("Hold clonazepam 12 h before; do not stop abruptly; never double up", 40)
    assert len(fitted) <= 40
    assert fitted.endswith("…")
