"""Cross-file checks of the knowledge base, as pure functions over hand-built models."""

from __future__ import annotations

from typing import Any

from cds_service.rules.catalogue import Catalogue, Problem, Sourced
from cds_service.rules.lint import lint, lint_products
from cds_service.rules.schema import Manifest, RuleSpec, TopicList


def member(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


def rule(topic: str, *members: dict[str, Any], **changes: Any) -> Sourced[RuleSpec]:
    data: dict[str, Any] = {
        "id": topic,
        "version": 1,
        "status": "active",
        "title": f"{topic} class",
        "members": list(members) or [member(f"{topic.lower()}ine")],
        "indicator": {"default": "info"},
        "summary": {"default": "{drugs}: continue with the ketamine infusion"},
        "recommendation": "Continue the medication.",
        "evidence": {
            "grade": "D",
            "summary": "Grade D: for a test.",
            "references": [{"citation": "A test", "url": "https://example.org/test"}],
        },
        "override_reasons": [{"code": "not-taking", "display": "Not taking it"}],
        "owner": "tests",
        "reviewed": "2026-11-27",
    }
    data.update(changes)
    return Sourced(f"cards/rules/{topic}.yaml", topic, RuleSpec.model_validate(data))


def manifest(*combinations: dict[str, Any], **ketamine: Any) -> Sourced[Manifest]:
    data = {
        "name": "test",
        "version": "1.0.0",
        "rxnorm_version": "test",
        "checked_on": "2026-11-27",
        "topic_system": "urn:test:topic",
        "override_reason_system": "urn:test:reason",
        "source_label": "test",
        "ketamine": {"rxcui": ["6130"], "names": ["ketamine"], **ketamine},
        "combinations": list(combinations),
    }
    return Sourced("cards/knowledge-base.yaml", "knowledge-base", Manifest.model_validate(data))


def combination(combination_id: str, *groups: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": combination_id,
        "title": "Together worse",
        "groups": list(groups),
        "indicator": "warning",
        "advice": "Monitor closely together.",
        "evidence": {
            "grade": "D",
            "summary": "Grade D: for a test.",
            "references": [{"citation": "A test", "url": "https://example.org/test"}],
        },
    }


def topics(*entries: tuple[str, str]) -> Sourced[TopicList]:
    listed = [{"id": topic, "status": status, "title": "A topic"} for topic, status in entries]
    return Sourced("cards/topics.yaml", "topics", TopicList.model_validate({"topics": listed}))


def problems(*rules: Sourced[RuleSpec], **parts: Any) -> list[str]:
    """Problems of a catalogue of these rules (case coverage aside: the loader tests own it)."""
    listed = topics(*((r.value.id, r.value.status) for r in rules))
    catalogue = Catalogue(
        manifest=parts.pop("manifest", None),
        topics=parts.pop("topics", listed),
        rules=rules,
        cases=(),
        **parts,
    )
    return [str(problem) for problem in lint(catalogue) if "cases: active rule" not in str(problem)]


def test_problem_without_a_field_names_only_the_file() -> None:
    assert str(Problem("cards/topics.yaml", "", "file not found")) == (
        "cards/topics.yaml: file not found"
    )


def test_lint_member_in_two_classes_undeclared_is_reported_in_both_files() -> None:
    found = problems(rule("AAA", member("sharedine")), rule("BBB", member("sharedine")))

    assert found == [
        "cards/rules/AAA.yaml: members[0].name: 'sharedine' is also a member of BBB; "
        "if deliberate, list BBB in its also_in (in both files)",
        "cards/rules/BBB.yaml: members[0].name: 'sharedine' is also a member of AAA; "
        "if deliberate, list AAA in its also_in (in both files)",
    ]


def test_lint_member_in_two_classes_declared_on_both_sides_passes() -> None:
    found = problems(
        rule("AAA", member("sharedine", also_in=["BBB"])),
        rule("BBB", member("sharedine", also_in=["AAA"])),
    )

    assert found == []


def test_lint_member_declared_on_one_side_only_reports_the_other() -> None:
    found = problems(
        rule("AAA", member("sharedine", also_in=["BBB"])), rule("BBB", member("sharedine"))
    )

    assert [p.split(": ")[0:2] for p in found] == [["cards/rules/BBB.yaml", "members[0].name"]]


def test_lint_also_in_naming_a_class_without_the_member_is_reported() -> None:
    found = problems(rule("AAA", member("onlyine", also_in=["BBB"])), rule("BBB"))

    assert found == ["cards/rules/AAA.yaml: members[0].also_in: BBB has no member 'onlyine'"]


def test_lint_also_in_naming_an_unreadable_class_is_not_reported() -> None:
    found = problems(
        rule("AAA", member("onlyine", also_in=["BBB"])),
        topics=topics(("AAA", "active"), ("BBB", "active")),
        unreadable_rules=frozenset({"BBB"}),
    )

    assert found == []


def test_lint_shared_member_with_another_rxcui_is_reported() -> None:
    found = problems(
        rule("AAA", member("sharedine", rxcui="1", also_in=["BBB"])),
        rule("BBB", member("sharedine", rxcui="2", also_in=["AAA"])),
    )

    assert found == [
        "cards/rules/BBB.yaml: members[0].rxcui: '2' differs from '1', the rxcui of 'sharedine' "
        "in AAA: one ingredient has one code"
    ]


def test_lint_one_rxnorm_code_for_two_ingredients_is_reported_wherever_it_is() -> None:
    found = problems(
        rule("AAA", member("firstine", rxcui="111")),
        rule(
            "BBB",
            member("secondine", product_codes=["999", "111"]),
            member("thirdine", rxcui="999"),
        ),
    )

    assert found == [
        "cards/rules/BBB.yaml: members[0].product_codes[1]: '111' is also the code of "
        "'firstine' in AAA",
        "cards/rules/BBB.yaml: members[1].rxcui: '999' is also the code of 'secondine' in BBB",
    ]


def test_lint_one_snomed_code_for_two_ingredients_is_reported() -> None:
    found = problems(
        rule("AAA", member("firstine", snomed=["5"]), member("secondine", snomed=["5"]))
    )

    assert found == [
        "cards/rules/AAA.yaml: members[1].snomed[0]: '5' is also the code of 'firstine' in AAA"
    ]


def test_lint_rxnorm_and_snomed_codes_do_not_collide() -> None:
    assert (
        problems(rule("AAA", member("firstine", rxcui="5"), member("secondine", snomed=["5"])))
        == []
    )


def test_lint_member_listed_twice_in_a_class_is_reported() -> None:
    found = problems(rule("AAA", member("twiceine"), member("onceine"), member("twiceine")))

    assert found == [
        "cards/rules/AAA.yaml: members[2].name: 'twiceine' is listed twice (first at members[0])"
    ]


def test_lint_override_reason_code_listed_twice_is_reported() -> None:
    reasons = [{"code": "not-taking", "display": "Not taking"}] * 2

    found = problems(rule("AAA", override_reasons=reasons))

    assert found == [
        "cards/rules/AAA.yaml: override_reasons[1].code: 'not-taking' is listed twice "
        "(first at override_reasons[0])"
    ]


def test_lint_member_with_a_ketamine_code_is_reported() -> None:
    found = problems(
        rule("AAA", member("firstine", rxcui="6130"), member("secondine", snomed=["77"])),
        manifest=manifest(esketamine_snomed=["77"]),
    )

    assert found == [
        "cards/rules/AAA.yaml: members[0].rxcui: '6130' is a ketamine code "
        "(cards/knowledge-base.yaml)",
        "cards/rules/AAA.yaml: members[1].snomed[0]: '77' is a ketamine code "
        "(cards/knowledge-base.yaml)",
    ]


def test_lint_combination_naming_unknown_topic_and_ingredient_reports_each() -> None:
    together = combination(
        "TOGETHER",
        {"name": "known", "topics": ["AAA"]},
        {"name": "unknown", "topics": ["ZZZ"], "ingredients": ["nonesuch", "aaaine"]},
    )

    found = problems(
        rule("AAA"),
        manifest=manifest(together),
        topics=topics(("AAA", "active"), ("TOGETHER", "active")),
    )

    assert found == [
        "cards/knowledge-base.yaml: combinations[0].groups[1].topics[0]: no rule file defines 'ZZZ'",
        "cards/knowledge-base.yaml: combinations[0].groups[1].ingredients[0]: 'nonesuch' is not "
        "a member of any rule",
    ]


def test_lint_combination_ingredients_unchecked_while_a_rule_file_is_unreadable() -> None:
    together = combination(
        "TOGETHER", {"name": "one", "ingredients": ["nonesuch"]}, {"name": "two", "topics": ["BBB"]}
    )

    found = problems(
        rule("AAA"),
        manifest=manifest(together),
        topics=topics(("AAA", "active"), ("BBB", "active"), ("TOGETHER", "active")),
        unreadable_rules=frozenset({"BBB"}),
    )

    assert found == []


def test_lint_combination_with_a_rule_id_or_a_repeated_id_is_reported() -> None:
    groups = ({"name": "one", "topics": ["AAA"]}, {"name": "two", "topics": ["AAA"]})

    found = problems(
        rule("AAA"),
        manifest=manifest(
            combination("AAA", *groups),
            combination("TWICE", *groups),
            combination("TWICE", *groups),
        ),
        topics=topics(("AAA", "active"), ("TWICE", "active")),
    )

    assert found == [
        "cards/knowledge-base.yaml: combinations[0].id: 'AAA' is a rule's id: a combination "
        "needs an id of its own",
        "cards/knowledge-base.yaml: combinations[2].id: 'TWICE' is listed twice "
        "(first at combinations[1])",
    ]


def test_lint_rule_missing_from_topics_is_reported_at_its_id() -> None:
    found = problems(rule("AAA"), rule("NEW"), topics=topics(("AAA", "active")))

    assert found == [
        "cards/rules/NEW.yaml: id: 'NEW' is not listed in cards/topics.yaml: add it there "
        "(ids are never reused)"
    ]


def test_lint_rule_status_differing_from_topics_is_reported_at_its_status() -> None:
    found = problems(rule("AAA", status="draft"), topics=topics(("AAA", "active")))

    assert found == [
        "cards/rules/AAA.yaml: status: 'draft', but cards/topics.yaml lists AAA as 'active'"
    ]


def test_lint_active_rule_under_a_retired_id_is_refused() -> None:
    found = problems(rule("OLD"), topics=topics(("OLD", "retired")))

    assert found == [
        "cards/rules/OLD.yaml: id: OLD is retired in cards/topics.yaml: a retired id is never reused"
    ]


def test_lint_retired_topic_without_a_file_passes_and_live_one_is_reported() -> None:
    found = problems(
        rule("AAA"),
        manifest=manifest(),
        topics=topics(("AAA", "active"), ("OLD", "retired"), ("GONE", "draft")),
    )

    assert found == [
        "cards/topics.yaml: topics[2].id: GONE is draft, but no rule file or combination defines it"
    ]


def test_lint_topic_listed_twice_is_reported() -> None:
    found = problems(rule("AAA"), topics=topics(("AAA", "active"), ("AAA", "active")))

    assert found == ["cards/topics.yaml: topics[1].id: 'AAA' is listed twice (first at topics[0])"]


def test_lint_combination_must_be_listed_as_active() -> None:
    groups = ({"name": "one", "topics": ["AAA"]}, {"name": "two", "topics": ["AAA"]})
    combinations = (combination("UNLISTED", *groups), combination("DRAFTED", *groups))

    found = problems(
        rule("AAA"),
        manifest=manifest(*combinations),
        topics=topics(("AAA", "active"), ("DRAFTED", "draft")),
    )

    assert found == [
        "cards/knowledge-base.yaml: combinations[0].id: 'UNLISTED' is not listed in "
        "cards/topics.yaml: add it there (ids are never reused)",
        "cards/knowledge-base.yaml: combinations[1].id: 'active', but cards/topics.yaml lists "
        "DRAFTED as 'draft'",
    ]


def test_lint_without_a_manifest_does_not_call_listed_topics_undefined() -> None:
    assert problems(rule("AAA"), topics=topics(("AAA", "active"), ("COMBO", "active"))) == []


def test_lint_products_reports_each_unknown_ingredient_at_its_code() -> None:
    found = lint_products(
        "cards/valuesets/x.yaml",
        {"1": ("aaaine",), "2": ("aaaine", "nonesuch")},
        frozenset({"aaaine"}),
    )

    assert [str(problem) for problem in found] == [
        "cards/valuesets/x.yaml: products.2: 'nonesuch' is not a member of any rule"
    ]
