"""Checks of ``patient-context.yaml`` against the rules: every topic, member and ingredient it names."""

from __future__ import annotations

from cds_service.rules.catalogue import Catalogue, Problem
from cds_service.rules.schema import PatientContextRules


def lint_context(label: str, context: PatientContextRules, catalogue: Catalogue) -> list[Problem]:
    """A problem for each topic, member or ingredient the file names that no rule holds."""
    members = {
        rule.value.id: {member.name for member in rule.value.members} for rule in catalogue.rules
    }
    problems: list[Problem] = []
    ingredients = catalogue.ingredients
    if context.alcohol.ingredient not in ingredients:
        problems.append(Problem(label, "alcohol.ingredient", "not a member of any rule"))
    for index, disorder in enumerate(context.disorders):
        if disorder.ingredient not in ingredients:
            where = f"disorders[{index}].ingredient"
            problems.append(Problem(label, where, f"{disorder.ingredient!r} is not a member"))
    for index, modifier in enumerate(context.modifiers):
        for topic in modifier.topics:
            if topic not in members:
                where = f"modifiers[{index}].topics"
                problems.append(Problem(label, where, f"{topic!r} is not a rule"))
                continue
            unknown = sorted(set(modifier.members) - members[topic])
            if unknown and not set(modifier.members) & members[topic]:
                where = f"modifiers[{index}].members"
                problems.append(Problem(label, where, f"not members of {topic}: {unknown}"))
    return problems
