"""Read and validate the knowledge base in ``cards/`` into a frozen KnowledgeBase (start-up only)."""

from __future__ import annotations

import argparse
import hashlib
import json
import string
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cds_service.errors import RuleSetInvalid
from cds_service.rules.knowledge import KnowledgeBase
from cds_service.rules.schema import CaseFile, Manifest, ProductCodeTable, RuleSpec

MANIFEST_FILE = "knowledge-base.yaml"
RULES_DIR = "rules"
VALUESETS_DIR = "valuesets"
CASES_SUFFIX = ".cases.yaml"
SUMMARY_PLACEHOLDERS = frozenset({"drugs", "hold_hours"})
SCHEMA_MODELS: Mapping[str, type[BaseModel]] = {
    "rule.schema.json": RuleSpec,
    "cases.schema.json": CaseFile,
    "manifest.schema.json": Manifest,
}

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Model = TypeVar("_Model", bound=BaseModel)


def load_knowledge_base(cards_dir: Path, *, product_tables: bool = True) -> KnowledgeBase:
    """Load ``cards_dir``; raise RuleSetInvalid naming the file and field of the first problem.

    ``product_tables=False`` skips ``valuesets/*.yaml`` (the generator that rewrites them uses it).
    """
    rules_dir = cards_dir / RULES_DIR
    if not rules_dir.is_dir():
        raise RuleSetInvalid(f"{_label(cards_dir, rules_dir)}: directory not found")
    rule_paths = sorted(p for p in rules_dir.glob("*.yaml") if not p.name.endswith(CASES_SUFFIX))
    case_paths = sorted(rules_dir.glob(f"*{CASES_SUFFIX}"))
    manifest_path = cards_dir / MANIFEST_FILE
    manifest = _parse(cards_dir, manifest_path, Manifest)
    rules = tuple(_parse(cards_dir, path, RuleSpec) for path in rule_paths)
    cases = tuple(_parse(cards_dir, path, CaseFile) for path in case_paths)
    _check_rules(cards_dir, rule_paths, rules)
    _check_combinations(cards_dir, manifest_path, manifest, rules)
    _check_cases(cards_dir, case_paths, cases, rules)
    table_paths = sorted((cards_dir / VALUESETS_DIR).glob("*.yaml")) if product_tables else []
    return KnowledgeBase(
        manifest=manifest,
        rules=rules,
        cases=MappingProxyType({case_file.rule: case_file for case_file in cases}),
        digest=_digest(cards_dir, [manifest_path, *rule_paths, *case_paths, *table_paths]),
        product_codes=_product_codes(cards_dir, table_paths, rules),
    )


def _check_combinations(
    cards_dir: Path, manifest_path: Path, manifest: Manifest, rules: tuple[RuleSpec, ...]
) -> None:
    topics = {rule.id for rule in rules}
    members = {member.name for rule in rules for member in rule.members}
    for index, combination in enumerate(manifest.combinations):
        for group in combination.groups:
            unknown = [t for t in group.topics if t not in topics] + [
                i for i in group.ingredients if i not in members
            ]
            if unknown:
                raise RuleSetInvalid(
                    f"{_label(cards_dir, manifest_path)}: combinations.{index}.groups: "
                    f"{combination.id} names {', '.join(unknown)}, which no rule has"
                )


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


def _parse(cards_dir: Path, path: Path, model: type[_Model]) -> _Model:
    label = _label(cards_dir, path)
    try:
        data = yaml.load(path.read_bytes(), Loader=_YamlLoader)  # noqa: S506 (a safe loader)
    except FileNotFoundError as exc:
        raise RuleSetInvalid(f"{label}: file not found") from exc
    except yaml.YAMLError as exc:
        raise RuleSetInvalid(f"{label}: not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise RuleSetInvalid(f"{label}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RuleSetInvalid(f"{label}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = _field_path(error["loc"])
    count = exc.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"{where}: {error['msg']}{more}" if where else f"{error['msg']}{more}"


def _field_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def _check_rules(cards_dir: Path, paths: Sequence[Path], rules: Sequence[RuleSpec]) -> None:
    duplicates = [rule_id for rule_id, n in Counter(r.id for r in rules).items() if n > 1]
    if duplicates:
        files = [
            _label(cards_dir, p) for p, r in zip(paths, rules, strict=True) if r.id in duplicates
        ]
        raise RuleSetInvalid(f"{', '.join(files)}: id: duplicate rule id {duplicates[0]!r}")
    for path, rule in zip(paths, rules, strict=True):
        if rule.id != path.stem:
            raise RuleSetInvalid(
                f"{_label(cards_dir, path)}: id: {rule.id!r} does not match the file name"
            )
        _check_summaries(_label(cards_dir, path), rule)


def _check_summaries(label: str, rule: RuleSpec) -> None:
    for variant in ("default", "light", "strong"):
        template = getattr(rule.summary, variant)
        if template is None:
            continue
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        except ValueError as exc:
            raise RuleSetInvalid(f"{label}: summary.{variant}: {exc}") from exc
        unknown = sorted(fields - SUMMARY_PLACEHOLDERS)
        if unknown:
            raise RuleSetInvalid(
                f"{label}: summary.{variant}: unknown placeholder {{{unknown[0]}}}"
            )


def _check_cases(
    cards_dir: Path, paths: Sequence[Path], cases: Sequence[CaseFile], rules: Sequence[RuleSpec]
) -> None:
    known = {rule.id for rule in rules}
    for path, case_file in zip(paths, cases, strict=True):
        label = _label(cards_dir, path)
        if case_file.rule != path.name.removesuffix(CASES_SUFFIX):
            raise RuleSetInvalid(f"{label}: rule: {case_file.rule!r} does not match the file name")
        if case_file.rule not in known:
            raise RuleSetInvalid(f"{label}: rule: no rule file defines {case_file.rule!r}")
    by_rule = {case_file.rule: case_file for case_file in cases}
    for rule in rules:
        if rule.status == "active" and rule.kind == "interaction":
            _check_coverage(cards_dir, rule, by_rule.get(rule.id))


def _check_coverage(cards_dir: Path, rule: RuleSpec, case_file: CaseFile | None) -> None:
    outcomes = {case.expect.outcome for case in case_file.cases} if case_file else set()
    missing = sorted({"fires", "silent"} - outcomes)
    if missing:
        label = _label(cards_dir, cards_dir / RULES_DIR / f"{rule.id}{CASES_SUFFIX}")
        raise RuleSetInvalid(
            f"{label}: cases: active rule {rule.id} needs at least one {missing[0]!r} case"
        )


def _product_codes(
    cards_dir: Path, paths: Sequence[Path], rules: Sequence[RuleSpec]
) -> Mapping[str, tuple[str, ...]]:
    # Any rule, not only active ones: drafting or retiring a class must not stop start-up until the
    # table is regenerated; the lexicon indexes only the ingredients of active classes.
    known = frozenset(member.name for rule in rules for member in rule.members)
    merged: dict[str, tuple[str, ...]] = {}
    for path in paths:
        products = _parse(cards_dir, path, ProductCodeTable).products
        _check_ingredients(_label(cards_dir, path), products, known)
        shared = {
            code: tuple(sorted({*merged[code], *products[code]}))
            for code in products.keys() & merged.keys()
        }
        merged.update(products)
        merged.update(shared)
    return MappingProxyType(merged)


def _check_ingredients(
    label: str, products: Mapping[str, tuple[str, ...]], known: frozenset[str]
) -> None:
    if known.issuperset(name for names in products.values() for name in names):
        return
    code, names = next((c, n) for c, n in products.items() if not known.issuperset(n))
    unknown = sorted(set(names) - known)[0]
    raise RuleSetInvalid(f"{label}: products.{code}: {unknown!r} is not a member of any rule")


def _digest(cards_dir: Path, paths: Iterable[Path]) -> str:
    sha = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(cards_dir).as_posix()):
        name = path.relative_to(cards_dir).as_posix().encode()
        body = path.read_bytes()
        sha.update(len(name).to_bytes(4, "big") + name + len(body).to_bytes(8, "big") + body)
    return sha.hexdigest()


def _label(cards_dir: Path, path: Path) -> str:
    return (Path(cards_dir.name) / path.relative_to(cards_dir)).as_posix()


def _repo_cards_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "cards"


def main(argv: Sequence[str] | None = None) -> int:
    """Validate a knowledge base, or regenerate its JSON Schema files with ``--write-schemas``."""
    parser = argparse.ArgumentParser(prog="python -m cds_service.rules.loader")
    parser.add_argument("--cards-dir", type=Path, default=_repo_cards_dir())
    parser.add_argument("--write-schemas", action="store_true", help="write cards/schema/*.json")
    args = parser.parse_args(argv)
    if args.write_schemas:
        for path in write_json_schemas(args.cards_dir / "schema"):
            print(f"wrote {path}")
        return 0
    try:
        kb = load_knowledge_base(args.cards_dir)
    except RuleSetInvalid as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {len(kb.rules)} rules, {len(kb.cases)} case files, digest {kb.digest[:12]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
