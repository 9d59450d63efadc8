"""Checks of ``cards/topics.yaml``, the register of topic ids: every id used is listed, none reused."""

from __future__ import annotations

from collections.abc import Mapping

from cds_service.rules.catalogue import Catalogue, Problem, Sourced, repeated
from cds_service.rules.schema import TopicList


def lint_topics(topics: Sourced[TopicList], catalogue: Catalogue) -> list[Problem]:
    """Every rule and combination is listed with its status; every listed live id is defined."""
    entries = topics.value.topics
    listed = {topic.id: topic.status for topic in entries}
    problems = repeated(topics.label, "topics", "id", [topic.id for topic in entries])
    for rule in catalogue.named_rules:
        if found := _listing(listed, topics.label, rule.value.id, rule.value.status):
            problems.append(Problem(rule.label, *found))
    if catalogue.manifest is None:
        return problems  # its combinations are unknown, so no listed id can be called undefined
    manifest = catalogue.manifest
    for index, combination in enumerate(manifest.value.combinations):
        if found := _listing(listed, topics.label, combination.id, "active"):
            problems.append(Problem(manifest.label, f"combinations[{index}].id", found[1]))
    defined = catalogue.rule_ids | {combination.id for combination in manifest.value.combinations}
    return problems + [
        Problem(
            topics.label,
            f"topics[{index}].id",
            f"{topic.id} is {topic.status}, but no rule file or combination defines it",
        )
        for index, topic in enumerate(entries)
        if topic.status != "retired" and topic.id not in defined
    ]


def _listing(
    listed: Mapping[str, str], topics_label: str, topic: str, status: str
) -> tuple[str, str] | None:
    """(field, message) when ``topic`` is not listed with ``status``; the field is id or status."""
    if topic not in listed:
        return (
            "id",
            f"{topic!r} is not listed in {topics_label}: add it there (ids are never reused)",
        )
    if listed[topic] == "retired" and status != "retired":
        return "id", f"{topic} is retired in {topics_label}: a retired id is never reused"
    if listed[topic] != status:
        return "status", f"{status!r}, but {topics_label} lists {topic} as {listed[topic]!r}"
    return None
