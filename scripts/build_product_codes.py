"""Derive cards/valuesets/rxnorm-products.yaml (RxNorm product code -> ingredients) from public value sets.

Run on demand, from the repo root:

    .venv/bin/python scripts/build_product_codes.py [--valuesets ../shared/reference/valuesets]

Each RxNorm product (SCD/SBD/GPCK/BPCK) of every FHIR ValueSet expansion in the reference folder is
classified by its display with the knowledge base's own lexicon; products naming at least one known
ingredient are written, sorted by code. The value-set files themselves are never copied into the repo.
Output is deterministic: re-running on the same inputs with the same date yields no diff, and the
generation date is kept when nothing else changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cds_service.clinical.lexicon import Lexicon  # noqa: E402
from cds_service.clinical.medications import is_local_product  # noqa: E402
from cds_service.rules.knowledge import compile_knowledge_base  # noqa: E402
from cds_service.rules.loader import load_knowledge_base  # noqa: E402
from cds_service.rules.schema import RXNORM_SYSTEM  # noqa: E402

DEFAULT_VALUESETS = REPO / ".." / "shared" / "reference" / "valuesets"
DEFAULT_OUTPUT = REPO / "cards" / "valuesets" / "rxnorm-products.yaml"
GENERATOR = "scripts/build_product_codes.py"
# Provenance as recorded in ../shared/reference/valuesets/SOURCES.md (sections 1 and 2).
VSAC_REPOSITORY = (
    "cqframework/ecqm-content-qicore-2024",
    "9ebd48ffebf2ed2489f3904cc8393ebf8979bfc9",
)
CDC_REPOSITORY = ("cqframework/opioid-cds-r4", "b29bdcbf6db6f3de26486dbc3820572ee9a78b89")
RXNORM_VERSION = (
    "RxNorm as expanded by each source (CDC opioid-cds 2023-05-25 and 2025-02-24, VSAC 2025-01-10);"
    " no monthly release was loaded, and product codes go stale: re-run before production use"
)
LICENCE = (
    "Facts derived from CC0-1.0 value sets (CDC opioid-cds-r4, VSAC expansions in"
    " ecqm-content-qicore-2024); RxNorm codes and names are public NLM data"
)


@dataclass(frozen=True)
class Product:
    code: str
    display: str
    ingredients: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    file: str
    repository: str
    commit: str
    expanded: str
    products: tuple[Product, ...]


def read_sources(valuesets: Path, lexicon: Lexicon) -> tuple[Source, ...]:
    """Every ValueSet expansion in ``valuesets`` with at least one RxNorm product the lexicon knows."""
    sources = (_read_source(path, lexicon) for path in sorted(valuesets.glob("*.json")))
    return tuple(source for source in sources if source is not None and source.products)


def _read_source(path: Path, lexicon: Lexicon) -> Source | None:
    data = json.loads(path.read_text(encoding="utf-8"))
    expansion = data.get("expansion") if isinstance(data, dict) else None
    if data.get("resourceType") != "ValueSet" or not isinstance(expansion, dict):
        return None  # compose-only (ingredient) sets and non-FHIR files carry no product expansion
    repository, commit = VSAC_REPOSITORY if path.name.startswith("valueset-") else CDC_REPOSITORY
    return Source(
        file=path.name,
        repository=repository,
        commit=commit,
        expanded=str(expansion.get("timestamp", ""))[:10],
        products=tuple(_classified(expansion.get("contains") or [], lexicon)),
    )


def _classified(contains: Sequence[Mapping[str, Any]], lexicon: Lexicon) -> Iterator[Product]:
    for concept in contains:
        display = str(concept.get("display") or "")
        if concept.get("system") != RXNORM_SYSTEM or not display:
            continue
        # Skin, eye and ear products raise no card (meds.is_local_product: hand-rub ethanol is not
        # alcohol intake), so a record coded only by their product code must not either.
        if is_local_product(display):
            continue
        ingredients = lexicon.ingredients_in_text(display)
        if ingredients:
            yield Product(str(concept["code"]), display, tuple(sorted(ingredients)))


def merged_products(sources: Sequence[Source]) -> dict[str, Product]:
    """One entry per code; a code met in several sets keeps the union of its ingredients."""
    products: dict[str, Product] = {}
    for source in sources:
        for product in source.products:
            known = products.get(product.code)
            if known is not None:
                names = tuple(sorted({*known.ingredients, *product.ingredients}))
                product = Product(product.code, min(known.display, product.display), names)
            products[product.code] = product
    return dict(sorted(products.items(), key=lambda item: int(item[0])))


def render(sources: Sequence[Source], generated_on: str) -> str:
    """The YAML text of the table: a provenance header, then one line per product code."""
    products = merged_products(sources)
    lines = [
        "# RxNorm product code -> known ingredients. GENERATED by scripts/build_product_codes.py:",
        "# do not edit by hand; re-run it (see cards/README.md). Displays are comments, for review.",
        f"system: {RXNORM_SYSTEM}",
        f"rxnorm_version: {json.dumps(RXNORM_VERSION)}",
        f"generated_on: {generated_on}",
        f"generator: {GENERATOR}",
        f"licence: {json.dumps(LICENCE)}",
        "sources:",
    ]
    for source in sources:
        lines.append(
            f"  - {{file: {source.file}, repository: {source.repository},"
            f' commit: "{source.commit}", expanded: {source.expanded}, codes: {len(source.products)}}}'
        )
    lines.append(f"products:  # {len(products)} codes")
    for product in products.values():
        names = ", ".join(json.dumps(name) for name in product.ingredients)
        lines.append(f'  "{product.code}": [{names}]  # {_comment(product.display)}')
    return "\n".join(lines) + "\n"


def _comment(display: str) -> str:
    return " ".join(display.split())


def _generated_on(output: Path, body_without_date: str, today: str) -> str:
    """Keep the committed date when only the date would change, so re-runs give no diff."""
    if not output.exists():
        return today
    old = output.read_text(encoding="utf-8")
    for line in old.splitlines():
        if line.startswith("generated_on: "):
            kept = line.removeprefix("generated_on: ")
            return kept if old == body_without_date.replace("@DATE@", kept) else today
    return today


def build(valuesets: Path, cards_dir: Path, output: Path, generated_on: str | None) -> str:
    """Generate the table text for ``output`` (not written) from ``valuesets`` and ``cards_dir``."""
    if not valuesets.is_dir():
        raise SystemExit(f"value-set folder not found: {valuesets}")
    lexicon = compile_knowledge_base(load_knowledge_base(cards_dir, product_tables=False)).lexicon
    sources = read_sources(valuesets, lexicon)
    if generated_on is not None:
        return render(sources, generated_on)
    template = render(sources, "@DATE@")
    return template.replace("@DATE@", _generated_on(output, template, date.today().isoformat()))


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) the product-code table."""
    parser = argparse.ArgumentParser(prog=GENERATOR)
    parser.add_argument("--valuesets", type=Path, default=DEFAULT_VALUESETS)
    parser.add_argument("--cards-dir", type=Path, default=REPO / "cards")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--date", help="generation date (YYYY-MM-DD); default: kept or today")
    parser.add_argument("--check", action="store_true", help="fail if the output is not current")
    args = parser.parse_args(argv)
    text = build(args.valuesets, args.cards_dir, args.output, args.date)
    if args.check:
        current = args.output.exists() and args.output.read_text(encoding="utf-8") == text
        print(f"{args.output}: {'current' if current else 'STALE: re-run the generator'}")
        return 0 if current else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {text.count(chr(10) + '  ' + chr(34))} product codes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
