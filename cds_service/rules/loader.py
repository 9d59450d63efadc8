"""Read, validate and lint the knowledge base in ``cards/`` into a frozen KnowledgeBase (start-up only)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from pydantic import BaseModel

from cds_service.errors import RuleSetInvalid
from cds_service.rules.catalogue import Catalogue, Problem, Sourced
from cds_service.rules.files import Layout, read, topic_of
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.lint import lint, lint_products
from cds_service.rules.lint_context import lint_context
from cds_service.rules.schema import (
    CaseFile,
    Manifest,
    PatientContextRules,
    PatientInstructions,
    ProductCodeTable,
    RuleSpec,
    TopicList,
)

SCHEMA_MODELS: Mapping[str, type[BaseModel]] = {
    "rule.schema.json": RuleSpec,
    "cases.schema.json": CaseFile,
    "manifest.schema.json": Manifest,
    "topics.schema.json": TopicList,
    "valueset.schema.json": ProductCodeTable,
    "patient.schema.json": PatientInstructions,
    "patient-context.schema.json": PatientContextRules,
}

_Model = TypeVar("_Model", bound=BaseModel)


def load_knowledge_base(cards_dir: Path, *, product_tables: bool = True) -> KnowledgeBase:
    """Load ``cards_dir``; raise RuleSetInvalid listing every problem, one per line.

    ``product_tables=False`` skips ``valuesets/*.yaml`` (the generator that rewrites them uses it).
    """
    kb, problems = check_knowledge_base(cards_dir, product_tables=product_tables)
    if kb is None:
        raise RuleSetInvalid("\n".join(str(problem) for problem in problems))
    return kb


def check_knowledge_base(
    cards_dir: Path, *, product_tables: bool = True
) -> tuple[KnowledgeBase | None, tuple[Problem, ...]]:
    """The knowledge base and no problems, or None and every problem found, grouped by file."""
    layout = Layout(cards_dir)
    if not layout.rules_dir.is_dir():
        return None, (Problem(layout.label(layout.rules_dir), "", "directory not found"),)
    problems: list[Problem] = []
    catalogue = _read_catalogue(layout, problems)
    problems += lint(catalogue)
    table_paths = layout.table_paths() if product_tables else []
    product_codes = _product_codes(layout, table_paths, catalogue, problems)
    patient = _patient_instructions(layout, catalogue, problems)
    context = _patient_context(layout, catalogue, problems)
    if problems or catalogue.manifest is None:
        return None, tuple(sorted(problems, key=lambda problem: problem.file))
    paths = [layout.manifest, layout.topics, *layout.rule_paths(), *layout.case_paths()]
    if patient is not None:
        paths.append(layout.patient_instructions)
    if context is not None:
        paths.append(layout.patient_context)
    kb = KnowledgeBase(
        manifest=catalogue.manifest.value,
        rules=tuple(rule.value for rule in catalogue.rules),
        cases=MappingProxyType({case.name: case.value for case in catalogue.cases}),
        digest=_digest(cards_dir, [*paths, *table_paths]),
        product_codes=product_codes,
        patient=patient,
        context=context,
    )
    return kb, ()


def _patient_instructions(
    layout: Layout, catalogue: Catalogue, problems: list[Problem]
) -> PatientInstructions | None:
    """The patient's templates when the file exists; each topic they name must be a held rule."""
    path = layout.patient_instructions
    if not path.exists():
        return None
    value, found = read(layout, path, PatientInstructions)
    problems += found
    if value is None or not catalogue.complete:
        return value
    held = {rule.value.id for rule in catalogue.rules if rule.value.hold is not None}
    for topic in sorted(value.topics.keys() - held):
        problems.append(
            Problem(layout.label(path), f"topics.{topic}", "not a rule with a hold window")
        )
    return value


def _patient_context(
    layout: Layout, catalogue: Catalogue, problems: list[Problem]
) -> PatientContextRules | None:
    """Substances and conditions when the file exists; the topics, members and ingredients it
    names must be the rules' own."""
    path = layout.patient_context
    if not path.exists():
        return None
    value, found = read(layout, path, PatientContextRules)
    problems += found
    if value is not None and catalogue.complete:
        problems += lint_context(layout.label(path), value, catalogue)
    return value


def _read_catalogue(layout: Layout, problems: list[Problem]) -> Catalogue:
    rules, unreadable_rules = _read_each(layout, layout.rule_paths(), RuleSpec, problems)
    cases, unreadable_cases = _read_each(layout, layout.case_paths(), CaseFile, problems)
    return Catalogue(
        manifest=_read_one(layout, layout.manifest, Manifest, problems),
        topics=_read_one(layout, layout.topics, TopicList, problems),
        rules=rules,
        cases=cases,
        unreadable_rules=unreadable_rules,
        unreadable_cases=unreadable_cases,
    )


def _read_one(
    layout: Layout, path: Path, model: type[_Model], problems: list[Problem]
) -> Sourced[_Model] | None:
    value, found = read(layout, path, model)
    problems += found
    return None if value is None else Sourced(layout.label(path), topic_of(path), value)


def _read_each(
    layout: Layout, paths: Sequence[Path], model: type[_Model], problems: list[Problem]
) -> tuple[tuple[Sourced[_Model], ...], frozenset[str]]:
    parsed = [(path, _read_one(layout, path, model, problems)) for path in paths]
    unreadable = frozenset(topic_of(path) for path, sourced in parsed if sourced is None)
    return tuple(sourced for _, sourced in parsed if sourced is not None), unreadable


def _product_codes(
    layout: Layout, paths: Sequence[Path], catalogue: Catalogue, problems: list[Problem]
) -> Mapping[str, tuple[str, ...]]:
    # Any rule, not only active ones: drafting or retiring a class must not stop start-up until the
    # table is regenerated; the lexicon indexes only the ingredients of active classes.
    merged: dict[str, tuple[str, ...]] = {}
    for path in paths:
        table, found = read(layout, path, ProductCodeTable)
        problems += found
        if table is None:
            continue
        if catalogue.complete:
            problems += lint_products(layout.label(path), table.products, catalogue.ingredients)
        shared = {
            code: tuple(sorted({*merged[code], *table.products[code]}))
            for code in table.products.keys() & merged.keys()
        }
        merged.update(table.products)
        merged.update(shared)
    return MappingProxyType(merged)


def _digest(cards_dir: Path, paths: Iterable[Path]) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(cards_dir).as_posix()):
        name = path.relative_to(cards_dir).as_posix().encode()
        body = path.read_bytes()
        sha.update(len(name).to_bytes(4, "big") + name + len(body).to_bytes(8, "big") + body)
    return sha.hexdigest()


def json_schemas() -> dict[str, str]:
    """The JSON Schema files generated from the pydantic models, by file name."""
    return {
        name: json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
        for name, model in SCHEMA_MODELS.items()
    }


def write_json_schemas(target_dir: Path) -> tuple[Path, ...]:
    """Write every SCHEMA_MODELS file into ``target_dir``; return their paths."""
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        path = target_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return tuple(written)


def check_command(cards_dir: Path) -> int:
    """``kb check``: print ``ok: ...`` and return 0, or print every problem and return 1."""
    kb, problems = check_knowledge_base(cards_dir)
    if kb is None:
        for problem in problems:
            print(problem)
        print(f"invalid: {_count(len(problems), 'problem')} in {cards_dir}", file=sys.stderr)
        return 1
    counts: tuple[str, ...] = (
        _count(len(kb.rules), "rule"),
        _count(len(kb.cases), "case file"),
        _count(len(kb.manifest.combinations), "combination"),
        _count(len(kb.product_codes), "product code"),
    )
    if kb.patient is not None:
        counts = (*counts, f"patient instructions ({kb.patient.language})")
    print(f"ok: {', '.join(counts)}, digest {kb.digest[:12]}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def schemas_command(cards_dir: Path) -> int:
    """``kb schemas``: regenerate ``cards_dir/schema/*.schema.json`` from the pydantic models."""
    for path in write_json_schemas(cards_dir / "schema"):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cds_service.rules.loader``: the same as ``cds-service kb check`` / ``kb schemas``."""
    parser = argparse.ArgumentParser(prog="python -m cds_service.rules.loader")
    parser.add_argument("--cards-dir", type=Path, default=Path(__file__).parents[2] / "cards")
    parser.add_argument("--write-schemas", action="store_true", help="write cards/schema/*.json")
    args = parser.parse_args(argv)
    if args.write_schemas:
        return schemas_command(args.cards_dir)
    return check_command(args.cards_dir)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
