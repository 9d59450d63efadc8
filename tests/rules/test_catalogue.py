"""Catalogue checks over the bundled knowledge base: conventions and clinical content beyond the loader.

What the loader refuses (and ``cds-service kb check`` reports) is tested in test_loader and test_lint.
"""

from __future__ import annotations

import string
from collections import defaultdict
from pathlib import Path

import pytest

from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.loader import json_schemas, load_knowledge_base
from cds_service.rules.schema import RuleSpec, TopicList
from tests.yaml_io import load_yaml

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"

# Brands that name a combination product, so they belong to each of its ingredients.
COMBINATION_BRANDS = {"lybalvi": {"olanzapine", "samidorphan"}}

# Brand families whose products have different ingredients ("Robitussin Chest Congestion" is
# guaifenesin only; "Robitussin DM" adds dextromethorphan): only a full product name may be a term.
FAMILY_BRANDS = {
    "robitussin", "mucinex", "tylenol", "theraflu", "vicks", "dayquil", "nyquil", "coricidin",
    "alka-seltzer", "excedrin", "advil", "motrin", "aleve", "tussin",
}  # fmt: skip

# CLINICAL.md "no card (continue)": these must never be members of any class.
NO_CARD_DRUGS = {
    "sertraline", "fluoxetine", "escitalopram", "citalopram", "paroxetine", "venlafaxine",
    "duloxetine", "desvenlafaxine", "amitriptyline", "nortriptyline", "bupropion", "lithium",
    "aripiprazole", "risperidone",
}  # fmt: skip

# A long but realistic drug list: the renderer names at most a few drugs in the summary.
LONG_DRUG_LIST = "clonazepam, lorazepam and alprazolam"
SUMMARY_LIMIT = 140


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base(CARDS_DIR)


def _topics() -> TopicList:
    return TopicList.model_validate(load_yaml(CARDS_DIR / "topics.yaml"))


def _interaction_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    return [rule for rule in kb.rules if rule.kind == "interaction"]


def test_catalogue_every_live_topic_in_topics_yaml_is_loaded_with_its_status(
    kb: KnowledgeBase,
) -> None:
    combinations = {combination.id: "active" for combination in kb.manifest.combinations}
    loaded = {rule.id: rule.status for rule in kb.rules} | combinations
    listed = {topic.id: topic.status for topic in _topics().topics}
    assert {t: s for t, s in listed.items() if s != "retired"} == {
        t: s for t, s in loaded.items() if s != "retired"
    }


def test_catalogue_topics_yaml_lists_each_id_once_and_every_loaded_one(kb: KnowledgeBase) -> None:
    ids = [topic.id for topic in _topics().topics]
    assert len(ids) == len(set(ids))
    assert {rule.id for rule in kb.rules} | {c.id for c in kb.manifest.combinations} <= set(ids)


def test_catalogue_only_datagap_is_a_data_gap_card(kb: KnowledgeBase) -> None:
    assert {rule.id for rule in kb.rules if rule.kind == "data-gap"} == {"DATAGAP"}


def test_catalogue_every_active_interaction_rule_has_fires_silent_and_todo_cases(
    kb: KnowledgeBase,
) -> None:
    missing = {
        rule.id: sorted({"fires", "silent", "todo"} - outcomes)
        for rule in _interaction_rules(kb)
        if rule.status == "active"
        and (outcomes := {case.expect.outcome for case in kb.cases[rule.id].cases})
        != {"fires", "silent", "todo"}
    }
    assert missing == {}


def test_catalogue_schema_files_are_current() -> None:
    for name, text in json_schemas().items():
        path = CARDS_DIR / "schema" / name
        assert path.read_text("utf-8") == text, f"{path} is stale: run cds-service kb schemas"


@pytest.mark.parametrize("hold_hours", ["4", "12", "24", "168"])
def test_catalogue_summary_templates_filled_stay_under_140_characters(
    kb: KnowledgeBase, hold_hours: str
) -> None:
    too_long = {}
    for rule in kb.rules:
        for variant in ("default", "light", "strong", "washout"):
            template = getattr(rule.summary, variant)
            if template is None:
                continue
            text = template.format(drugs=LONG_DRUG_LIST, hold_hours=hold_hours)
            if len(text) >= SUMMARY_LIMIT:
                too_long[f"{rule.id}.{variant}"] = len(text)
    assert too_long == {}


def test_catalogue_summaries_with_a_hold_name_the_hold_hours(kb: KnowledgeBase) -> None:
    # A hold summary that leaves out the hours would tell the prescriber to hold without saying how long.
    rules = [r for r in kb.rules if r.hold is not None and r.hold.applies_to == "all"]
    fields = {
        rule.id: {f for _, f, _, _ in string.Formatter().parse(rule.summary.default) if f}
        for rule in rules
    }
    assert fields, "expected at least one class with a hold for every use"
    assert {topic for topic, names in fields.items() if "hold_hours" not in names} == set()


def test_catalogue_interaction_summaries_name_the_drugs(kb: KnowledgeBase) -> None:
    unnamed = [
        f"{rule.id}.{variant}"
        for rule in _interaction_rules(kb)
        for variant in ("default", "light", "strong", "washout")
        if (template := getattr(rule.summary, variant)) is not None and "{drugs}" not in template
    ]
    assert unnamed == []


def test_catalogue_every_rule_cites_https_references(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        assert rule.evidence.references, rule.id
        for reference in rule.evidence.references:
            assert reference.url.scheme == "https", (rule.id, str(reference.url))


def test_catalogue_evidence_summary_states_its_grade(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        assert f"grade {rule.evidence.grade.lower()}" in rule.evidence.summary.lower(), rule.id


def test_catalogue_brand_names_point_to_one_ingredient_unless_combination(
    kb: KnowledgeBase,
) -> None:
    ingredients: dict[str, set[str]] = defaultdict(set)
    for rule in kb.rules:
        for member in rule.members:
            for term in (*member.brands, *member.synonyms):
                ingredients[term.lower()].add(member.name)
    ambiguous = {term: names for term, names in ingredients.items() if len(names) > 1}
    assert ambiguous == COMBINATION_BRANDS


def test_catalogue_family_brands_are_never_a_term_of_their_own(kb: KnowledgeBase) -> None:
    terms = {
        term.lower()
        for rule in kb.rules
        for member in rule.members
        for term in (*member.brands, *member.synonyms)
    }
    assert terms & FAMILY_BRANDS == set()


def test_catalogue_no_card_drugs_are_not_members(kb: KnowledgeBase) -> None:
    members = {member.name for rule in kb.rules for member in rule.members}
    assert members & NO_CARD_DRUGS == set()


def test_catalogue_benzodiazepine_card_says_not_to_stop_abruptly(kb: KnowledgeBase) -> None:
    bzd = kb.rule("BZD")
    assert bzd.do_not_stop is not None
    assert "abruptly" in bzd.do_not_stop
    assert "seizure" in bzd.do_not_stop
    assert bzd.summary.strong is not None
    assert "stop" not in bzd.summary.strong.replace("do not stop", "")


def test_catalogue_benzodiazepine_dose_policy_names_table_and_threshold(kb: KnowledgeBase) -> None:
    policy = kb.rule("BZD").dose_policy
    assert policy is not None
    assert "Ashton" in policy.equivalence_table
    assert policy.high_dose_mg_per_day == 8


def test_catalogue_benzodiazepine_factors_convert_ashton_doses_to_10mg_diazepam(
    kb: KnowledgeBase,
) -> None:
    # Ashton Manual table 1: dose (mg) approximately equal to diazepam 10 mg (midpoint of ranges).
    ashton_mg_equal_to_10mg_diazepam = {
        "alprazolam": 0.5, "chlordiazepoxide": 25, "clobazam": 20, "clonazepam": 0.5,
        "clorazepate": 15, "diazepam": 10, "estazolam": 1.5, "flurazepam": 22.5, "lorazepam": 1,
        "oxazepam": 20, "quazepam": 20, "temazepam": 20, "triazolam": 0.5, "bromazepam": 5.5,
        "halazepam": 40, "lormetazepam": 1.5, "flunitrazepam": 1, "nitrazepam": 10, "prazepam": 15,
    }  # fmt: skip
    factors = {m.name: m.dose_factor for m in kb.rule("BZD").members}
    assert "clonazepam" in factors
    for name in factors.keys() & ashton_mg_equal_to_10mg_diazepam.keys():
        mg = ashton_mg_equal_to_10mg_diazepam[name]
        factor = factors[name]
        assert factor is not None, name
        assert factor * mg == pytest.approx(10, rel=0.01), name


def test_catalogue_benzodiazepine_members_without_factor_are_the_documented_ones(
    kb: KnowledgeBase,
) -> None:
    unknown = {m.name for m in kb.rule("BZD").members if m.dose_factor is None}
    assert unknown == {"midazolam", "remimazolam"}


@pytest.mark.parametrize(
    ("topic", "before", "after"),
    [("BZD", 12, 4), ("LTG", 12, 6), ("ZDRUG", 12, 4)],
)
def test_catalogue_hold_windows_match_the_issue_defaults(
    kb: KnowledgeBase, topic: str, before: float, after: float
) -> None:
    hold = kb.rule(topic).hold
    assert hold is not None
    assert (hold.before_hours, hold.resume_after_hours) == (before, after)


def test_catalogue_maoi_washout_is_two_weeks(kb: KnowledgeBase) -> None:
    assert kb.rule("MAOI").washout_days == 14


def test_catalogue_theophylline_is_the_only_critical_class(kb: KnowledgeBase) -> None:
    critical = {rule.id for rule in kb.rules if rule.indicator.default == "critical"}
    escalated = {
        rule.id for rule in kb.rules for member in rule.members if member.indicator == "critical"
    }
    assert critical | escalated == {"XANTHINE"}


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("BZD", "add-hold-instruction"),
        ("LTG", "add-hold-instruction"),
        ("ZDRUG", "add-hold-instruction"),
        ("XANTHINE", "cancel-ketamine-order"),
        ("MAOI", "order-bp-monitoring"),
        ("STIM", "order-bp-monitoring"),
        ("THYROID", "order-bp-monitoring"),
        ("OPIOID", "order-spo2-monitoring"),
        ("CNSDEP", "order-spo2-monitoring"),
    ],
)
def test_catalogue_class_offers_its_concrete_action(
    kb: KnowledgeBase, topic: str, kind: str
) -> None:
    assert kind in {s.kind for s in kb.rule(topic).suggestions}


def test_catalogue_hold_instruction_only_where_a_hold_exists(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        if any(s.kind == "add-hold-instruction" for s in rule.suggestions):
            assert rule.hold is not None, rule.id


def test_catalogue_classes_that_must_not_be_stopped_say_so(kb: KnowledgeBase) -> None:
    for topic in ("BZD", "LTG", "AED", "OPIOID", "OPANTAG", "MAOI", "THYROID"):
        assert kb.rule(topic).do_not_stop, topic


def test_catalogue_moud_members_carry_never_hold_wording(kb: KnowledgeBase) -> None:
    notes = {m.name: m.do_not_stop or "" for m in kb.rule("OPIOID").members}
    assert "Never hold" in notes["methadone"]
    assert "Never hold" in notes["buprenorphine"]


def test_manifest_records_rxnorm_sources_and_ketamine_terms(kb: KnowledgeBase) -> None:
    manifest = kb.manifest
    for source in ("VSAC", "2025-01-10", "opioid-cds", "2025-02-24", "US Core 3.1.1", "PharmGKB"):
        assert source in manifest.rxnorm_version
    assert manifest.topic_system == "http://ketamine-cds.org/fhir/CodeSystem/card-topic"
    assert manifest.ketamine.rxcui == ("6130",)
    assert manifest.ketamine.esketamine_rxcui == ()  # UNVERIFIED in CLINICAL.md: none invented
    assert all(name == name.lower() for name in manifest.ketamine.names)
