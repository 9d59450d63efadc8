"""Checks across the files of a knowledge base, as pure functions that return every problem found.

A file that failed to parse is left out of these checks, and nothing that it could have defined is
reported as missing: one broken file gives its own errors, not a cascade of false ones.
"""

from __future__ import annotations

import string
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

from cds_service.rules.catalogue import Catalogue, Problem, Sourced, repeated
from cds_service.rules.lint_topics import lint_topics
from cds_service.rules.schema import (
    CaseFile,
    CombinationGroup,
    Manifest,
    Member,
    RuleSpec,
)

SUMMARY_PLACEHOLDERS = frozenset({"drugs", "hold_hours"})
SUMMARY_VARIANTS = ("default", "light", "strong", "washout")
COMBINATION_PLACEHOLDERS = frozenset({"others"})
REQUIRED_OUTCOMES = ("fires", "silent")


def lint(catalogue: Catalogue) -> list[Problem]:
    """Every cross-file problem of the catalogue (each file's own schema errors are not repeated)."""
    problems = [p for rule in catalogue.rules for p in lint_rule(rule)]
    problems += lint_members(catalogue.named_rules, catalogue.unreadable_rules)
    problems += lint_cases(catalogue)
    if catalogue.manifest is not None:
        problems += lint_manifest(catalogue.manifest, catalogue)
    if catalogue.topics is not None:
        problems += lint_topics(catalogue.topics, catalogue)
    return problems


def lint_rule(rule: Sourced[RuleSpec]) -> list[Problem]:
    """One rule file on its own: its id, its summary placeholders, its lists without repeats."""
    spec, problems = rule.value, []
    if spec.id != rule.name:
        problems.append(Problem(rule.label, "id", f"{spec.id!r} does not match the file name"))
    for variant in SUMMARY_VARIANTS:
        if (template := getattr(spec.summary, variant)) is not None:
            problems += [
                Problem(rule.label, f"summary.{variant}", m) for m in _placeholders(template)
            ]
    problems += repeated(rule.label, "members", "name", [m.name for m in spec.members])
    codes = [reason.code for reason in spec.override_reasons]
    return problems + repeated(rule.label, "override_reasons", "code", codes)


def _placeholders(template: str, allowed: frozenset[str] = SUMMARY_PLACEHOLDERS) -> list[str]:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [str(exc)]
    return [f"unknown placeholder {{{name}}}" for name in fields if name not in allowed]


def lint_members(rules: Sequence[Sourced[RuleSpec]], unreadable: frozenset[str]) -> list[Problem]:
    """Shared ingredients must be declared (``also_in``) on both sides; codes name one ingredient."""
    holders: dict[str, list[tuple[Sourced[RuleSpec], int, Member]]] = defaultdict(list)
    for rule in rules:
        for index, member in enumerate(rule.value.members):
            holders[member.name].append((rule, index, member))
    problems = []
    for held in holders.values():
        classes = {rule.value.id for rule, _, _ in held}
        for rule, index, member in held:
            problems += _undeclared_sharing(rule, index, member, classes, unreadable)
        problems += _disagreeing_rxcui(held)
    return problems + _shared_codes(rules)


def _undeclared_sharing(
    rule: Sourced[RuleSpec],
    index: int,
    member: Member,
    classes: set[str],
    unreadable: frozenset[str],
) -> list[Problem]:
    others = classes - {rule.value.id}
    problems = []
    if undeclared := sorted(others - set(member.also_in)):
        others_text = ", ".join(undeclared)
        message = (
            f"{member.name!r} is also a member of {others_text}; if deliberate, list "
            f"{others_text} in its also_in (in both files)"
        )
        problems.append(Problem(rule.label, f"members[{index}].name", message))
    if phantom := sorted(set(member.also_in) - others - unreadable):
        message = f"{', '.join(phantom)} has no member {member.name!r}"
        problems.append(Problem(rule.label, f"members[{index}].also_in", message))
    return problems


def _disagreeing_rxcui(held: Sequence[tuple[Sourced[RuleSpec], int, Member]]) -> list[Problem]:
    first_rule, _, first = held[0]
    return [
        Problem(
            rule.label,
            f"members[{index}].rxcui",
            f"{_shown(member.rxcui)} differs from {_shown(first.rxcui)}, the rxcui of "
            f"{member.name!r} in {first_rule.value.id}: one ingredient has one code",
        )
        for rule, index, member in held[1:]
        if member.rxcui != first.rxcui
    ]


def _shown(code: str | None) -> str:
    return "null" if code is None else repr(code)


def _member_codes(member: Member) -> Iterator[tuple[str, str, str]]:
    """(system, code, field) of every code of a member; RxCUIs and product codes share RxNorm."""
    if member.rxcui is not None:
        yield "rxnorm", member.rxcui, "rxcui"
    for index, code in enumerate(member.product_codes):
        yield "rxnorm", code, f"product_codes[{index}]"
    for index, code in enumerate(member.snomed):
        yield "snomed", code, f"snomed[{index}]"


def _shared_codes(rules: Sequence[Sourced[RuleSpec]]) -> list[Problem]:
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for rule in rules:
        for index, member in enumerate(rule.value.members):
            for system, code, field in _member_codes(member):
                name, topic = owners.setdefault((system, code), (member.name, rule.value.id))
                if name != member.name:
                    message = f"{code!r} is also the code of {name!r} in {topic}"
                    problems.append(Problem(rule.label, f"members[{index}].{field}", message))
    return problems


def lint_cases(catalogue: Catalogue) -> list[Problem]:
    """Cases files name their own, existing rule; every active or shadow class has fires and silent
    cases (a shadow rule is piloted on the same evidence an active one would need)."""
    problems = []
    for case_file in catalogue.cases:
        problems += _case_file_problems(case_file, catalogue.rule_ids)
    covered = {case_file.name: case_file.value for case_file in catalogue.cases}
    for rule in catalogue.named_rules:
        spec = rule.value
        if spec.status not in ("active", "shadow") or spec.kind != "interaction":
            continue
        if spec.id not in catalogue.unreadable_cases:
            problems += _missing_outcomes(rule, covered.get(spec.id))
    return problems


def _case_file_problems(case_file: Sourced[CaseFile], rule_ids: frozenset[str]) -> list[Problem]:
    rule, problems = case_file.value.rule, []
    if rule != case_file.name:
        problems.append(Problem(case_file.label, "rule", f"{rule!r} does not match the file name"))
    elif rule not in rule_ids:
        problems.append(Problem(case_file.label, "rule", f"no rule file defines {rule!r}"))
    names = [case.name for case in case_file.value.cases]
    return problems + repeated(case_file.label, "cases", "name", names)


def _missing_outcomes(rule: Sourced[RuleSpec], case_file: CaseFile | None) -> list[Problem]:
    outcomes = {case.expect.outcome for case in case_file.cases} if case_file else set()
    label = rule.label.removesuffix(".yaml") + ".cases.yaml"
    return [
        Problem(
            label,
            "cases",
            f"{rule.value.status} rule {rule.value.id} needs at least one {outcome!r} case",
        )
        for outcome in REQUIRED_OUTCOMES
        if outcome not in outcomes
    ]


def lint_manifest(manifest: Sourced[Manifest], catalogue: Catalogue) -> list[Problem]:
    """Combinations name existing classes and members under an id of their own; no member is ketamine."""
    problems = []
    rule_ids = catalogue.rule_ids
    for index, combination in enumerate(manifest.value.combinations):
        where = f"combinations[{index}]"
        if combination.id in rule_ids:
            message = f"{combination.id!r} is a rule's id: a combination needs an id of its own"
            problems.append(Problem(manifest.label, f"{where}.id", message))
        if combination.summary is not None:
            problems += [
                Problem(manifest.label, f"{where}.summary", message)
                for message in _placeholders(combination.summary, COMBINATION_PLACEHOLDERS)
            ]
        for number, group in enumerate(combination.groups):
            problems += _unknown_group_names(
                manifest.label, f"{where}.groups[{number}]", group, catalogue
            )
    ids = [combination.id for combination in manifest.value.combinations]
    problems += repeated(manifest.label, "combinations", "id", ids)
    return problems + _ketamine_members(manifest, catalogue.rules)


def _unknown_group_names(
    label: str, where: str, group: CombinationGroup, catalogue: Catalogue
) -> list[Problem]:
    rule_ids, ingredients = catalogue.rule_ids, catalogue.ingredients
    problems = [
        Problem(label, f"{where}.topics[{index}]", f"no rule file defines {topic!r}")
        for index, topic in enumerate(group.topics)
        if topic not in rule_ids
    ]
    if not catalogue.complete:
        return problems
    return problems + [
        Problem(label, f"{where}.ingredients[{index}]", f"{name!r} is not a member of any rule")
        for index, name in enumerate(group.ingredients)
        if name not in ingredients
    ]


def _ketamine_members(
    manifest: Sourced[Manifest], rules: Sequence[Sourced[RuleSpec]]
) -> list[Problem]:
    terms = manifest.value.ketamine
    ketamine = {
        "rxnorm": {*terms.rxcui, *terms.product_codes, *terms.esketamine_rxcui},
        "snomed": {*terms.snomed, *terms.esketamine_snomed},
    }
    return [
        Problem(
            rule.label,
            f"members[{index}].{field}",
            f"{code!r} is a ketamine code ({manifest.label})",
        )
        for rule in rules
        for index, member in enumerate(rule.value.members)
        for system, code, field in _member_codes(member)
        if code in ketamine[system]
    ]


def lint_products(
    label: str, products: Mapping[str, Sequence[str]], ingredients: frozenset[str]
) -> list[Problem]:
    """Every ingredient a product-code table names is a member of some rule."""
    return [
        Problem(label, f"products.{code}", f"{name!r} is not a member of any rule")
        for code, names in products.items()
        for name in names
        if name not in ingredients
    ]
