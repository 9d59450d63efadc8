"""The compiled lexicon: codes, names, brands and near misses."""

from __future__ import annotations

import pytest

from cds_service.clinical import lexicon as lexicon_module
from cds_service.clinical.lexicon import KetamineVocabulary, Lexicon, MemberTerms, code_system_kind
from cds_service.rules.knowledge import KnowledgeBase, compile_knowledge_base
from cds_service.rules.schema import Member
from tests.clinical.lexicon_builders import (
    KETAMINE,
    RXNORM,
    SNOMED,
    built_lexicon,
    knowledge_base,
    rule,
)


@pytest.fixture
def lexicon() -> Lexicon:
    return built_lexicon()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LamoTRIgine", {"lamotrigine"}),
        ("Klonopin 0.5mg", {"clonazepam"}),
        ("Klonopin0.5mg", {"clonazepam"}),
        ("Clonazepam [Klonopin]", {"clonazepam"}),
        ("Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet", {"oxycodone"}),
        ("{7 (Alprazolam 0.25 MG Oral Tablet) } Pack", {"alprazolam"}),
        ("Lamictal   XR 100 mg", {"lamotrigine"}),
        ("buprenorphine 2 MG / naloxone 0.5 MG Sublingual Film [Suboxone]", {"buprenorphine"}),
        (
            "amphetamine aspartate 5 MG / dextroamphetamine sulfate 5 MG Oral Tablet",
            {"amphetamine", "dextroamphetamine"},
        ),
    ],
)
def test_ingredients_in_text_when_named_by_ingredient_brand_or_rxnorm_name_finds_each(
    lexicon: Lexicon, text: str, expected: set[str]
) -> None:
    assert lexicon.ingredients_in_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dextroamphetamine sulfate 10 MG", {"dextroamphetamine"}),
        ("Dexmethylphenidate 5 MG", {"dexmethylphenidate"}),
        ("methylphenidate 5 MG", {"methylphenidate"}),
        ("naloxone 4 MG nasal spray", set()),
        ("Xanaxol", set()),
        ("clonazepamine", set()),
    ],
)
def test_ingredients_in_text_when_near_miss_prefers_longest_whole_word(
    lexicon: Lexicon, text: str, expected: set[str]
) -> None:
    assert lexicon.ingredients_in_text(text) == expected


def test_ingredients_for_code_when_ingredient_product_or_snomed_code_maps_to_member(
    lexicon: Lexicon,
) -> None:
    assert lexicon.ingredients_for_code(RXNORM, "2598") == {"clonazepam"}
    assert lexicon.ingredients_for_code(RXNORM, "308047") == {"alprazolam"}
    assert lexicon.ingredients_for_code(SNOMED, "387106007") == {"lorazepam"}
    assert lexicon.ingredients_for_code("urn:oid:2.16.840.1.113883.6.88", "2598") == {"clonazepam"}


def test_ingredients_for_code_when_system_differs_or_code_unknown_returns_nothing(
    lexicon: Lexicon,
) -> None:
    assert lexicon.ingredients_for_code(SNOMED, "2598") == frozenset()
    assert lexicon.ingredients_for_code(RXNORM, "999999") == frozenset()
    assert lexicon.ingredients_for_code("http://hl7.org/fhir/sid/ndc", "2598") == frozenset()


def test_classes_for_when_ingredient_in_two_classes_lists_both(lexicon: Lexicon) -> None:
    assert set(lexicon.classes_for("carbamazepine")) == {"AED", "CYPIND"}
    assert lexicon.classes_for("aspirin") == ()


def test_compiled_members_when_present_return_knowledge_base_entry() -> None:
    compiled = compile_knowledge_base(knowledge_base())
    assert compiled.members("BZD")["clonazepam"].dose_factor == 20
    assert "clonazepam" not in compiled.members("LTG")
    assert compiled.members("NOSUCH") == {}


def test_compile_when_rule_not_active_ignores_its_members() -> None:
    draft = rule("MAOI", (Member(name="phenelzine", rxcui="8123", brands=("Nardil",)),), "draft")
    lexicon = compile_knowledge_base(knowledge_base((draft,))).lexicon
    assert lexicon.ingredients_in_text("Nardil 15 mg") == frozenset()
    assert lexicon.ingredients_for_code(RXNORM, "8123") == frozenset()


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (RXNORM, "6130", "ketamine"),
        (RXNORM, "238083", "ketamine"),
        (SNOMED, "373464007", "ketamine"),
        (RXNORM, "2283299", "esketamine"),
        (SNOMED, "789488000", "esketamine"),
        (RXNORM, "2598", None),
        (SNOMED, "6130", None),
    ],
)
def test_is_ketamine_code_when_coded_distinguishes_ketamine_and_esketamine(
    lexicon: Lexicon, system: str, code: str, expected: str | None
) -> None:
    assert lexicon.is_ketamine_code(system, code) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ketamine HCl 50 MG/ML Injectable Solution", "ketamine"),
        ("KETALAR 10 mg/mL", "ketamine"),
        ("esketamine 28 MG Nasal Spray", "esketamine"),
        ("Spravato 56 mg", "esketamine"),
        ("esketamine or ketamine", "ketamine"),
        ("Naproxen 125 MG Oral Tablet", None),
    ],
)
def test_ketamine_in_text_when_named_returns_kind_without_confusing_esketamine(
    lexicon: Lexicon, text: str, expected: str | None
) -> None:
    assert lexicon.ketamine_in_text(text) == expected


def test_ketamine_in_text_asked_again_gives_the_same_kind_from_a_bounded_memo(
    lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexicon_module, "TEXT_MEMO_SIZE", 2)
    lexicon._ketamine_memo.clear()  # the fixture's lexicon is shared with the tests above
    texts = ["Spravato 56 mg", "Naproxen 125 MG Oral Tablet", "KETALAR 10 mg/mL"]
    expected = ["esketamine", None, "ketamine"]
    for _ in range(2):  # the second round answers from the memo, or after it was cleared
        assert [lexicon.ketamine_in_text(text) for text in texts] == expected
    assert len(lexicon._ketamine_memo) <= 2
    assert lexicon._ketamine_memo[texts[-1]] == expected[-1]  # remembered, not only recomputed


def test_names_infusion_service_when_term_words_present_in_any_order_is_true() -> None:
    terms = KETAMINE.model_copy(
        update={"infusion_service_terms": ("ketamine infusion", "iv ketamine")}
    )
    kb = knowledge_base()
    manifest = kb.manifest.model_copy(update={"ketamine": terms})
    lexicon = compile_knowledge_base(KnowledgeBase(manifest=manifest, rules=kb.rules)).lexicon
    assert lexicon.names_infusion_service("Ketamine infusion therapy")
    assert lexicon.names_infusion_service("Infusion of KETAMINE 0.5 mg/kg")
    assert lexicon.names_infusion_service("Ketamine 35 mg IV over 40 min")
    assert not lexicon.names_infusion_service("Ketamine level, serum")
    assert not lexicon.names_infusion_service("Saline infusion")


def test_code_system_kind_when_uri_or_oid_normalises() -> None:
    assert code_system_kind("http://www.nlm.nih.gov/research/umls/rxnorm") == "rxnorm"
    assert code_system_kind("http://snomed.info/sct") == "snomed"
    assert code_system_kind("urn:oid:2.16.840.1.113883.6.96") == "snomed"
    assert code_system_kind("http://loinc.org") == "http://loinc.org"


def test_lexicon_depot_days_when_text_names_the_long_acting_form() -> None:
    member = MemberTerms(
        topic="OPANTAG",
        ingredient="naltrexone",
        names=("vivitrol",),
        depot_words=("vivitrol", "injection"),
        depot_days=28,
    )
    lexicon = Lexicon.build([member], KetamineVocabulary(rxnorm=(), snomed=(), names=("ketamine",)))
    naltrexone = frozenset({"naltrexone"})
    assert lexicon.depot_days(naltrexone, ["naltrexone 380 MG Injection"]) == 28
    assert lexicon.depot_days(naltrexone, ["naltrexone 50 MG Oral Tablet"]) is None
    assert lexicon.depot_days(frozenset({"clonazepam"}), ["Vivitrol"]) is None
