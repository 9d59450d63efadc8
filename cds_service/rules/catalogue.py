"""What the loader hands the lint: the parsed files of one knowledge base, and the problem type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cds_service.rules.schema import CaseFile, Manifest, RuleSpec, TopicList

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, where it is: ``cards/rules/BZD.yaml: members[2].name: ...``."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A parsed file: its label for messages, the topic its file name gives, and its model."""

    label: str
    name: str
    value: T


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every parsed file of one knowledge base, and the names of those that failed to parse."""

    manifest: Sourced[Manifest] | None
    topics: Sourced[TopicList] | None
    rules: tuple[Sourced[RuleSpec], ...]
    cases: tuple[Sourced[CaseFile], ...]
    unreadable_rules: frozenset[str] = frozenset()
    unreadable_cases: frozenset[str] = frozenset()

    @property
    def named_rules(self) -> tuple[Sourced[RuleSpec], ...]:
        """Rules whose id matches their file name; a misnamed one is kept out of cross-file checks."""
        return tuple(rule for rule in self.rules if rule.value.id == rule.name)

    @property
    def rule_ids(self) -> frozenset[str]:
        """Every topic a rule file may define: file names and ids, read or not."""
        ids = {rule.name for rule in self.rules} | {rule.value.id for rule in self.rules}
        return frozenset(ids) | self.unreadable_rules

    @property
    def complete(self) -> bool:
        """Whether every rule file was read, so a name missing from all of them is really missing."""
        return not self.unreadable_rules

    @property
    def ingredients(self) -> frozenset[str]:
        """Every member name of every rule, whatever its status."""
        return frozenset(m.name for rule in self.rules for m in rule.value.members)


def repeated(label: str, items: str, key: str, values: Sequence[str]) -> list[Problem]:
    """A problem at every value already seen earlier in the list ``items``, keyed by ``key``."""
    first: dict[str, int] = {}
    problems = []
    for index, value in enumerate(values):
        if value in first:
            where = f"{items}[{index}].{key}"
            message = f"{value!r} is listed twice (first at {items}[{first[value]}])"
            problems.append(Problem(label, where, message))
        first.setdefault(value, index)
    return problems
