"""cards/README.md matches the data: a field table per schema model, and the table of live topics.

A field table is a markdown table whose header starts with ``| Field |``, under a heading that names a
schema model in backticks (``### `Hold` (`hold:`)``); its first column lists fields in backticks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from cds_service.rules import schema
from cds_service.rules.schema import TopicList
from tests.yaml_io import load_yaml

CARDS_DIR = Path(__file__).resolve().parents[2] / "cards"
README = CARDS_DIR / "README.md"
TOPICS = CARDS_DIR / "topics.yaml"
MODELS = {
    name: value
    for name, value in vars(schema).items()
    if isinstance(value, type) and issubclass(value, BaseModel) and value is not schema.Strict
}


def field_tables(text: str) -> dict[str, list[str]]:
    """Model name -> the field names its README table lists, in order."""
    tables: dict[str, list[str]] = {}
    model, in_field_table = None, False
    for line in text.splitlines():
        if line.startswith("#"):
            named = [n for n in re.findall(r"`(\w+)`", line) if n in MODELS]
            model, in_field_table = (named[0] if named else None), False
        elif line.startswith("| Field |"):
            in_field_table = model is not None
            if model is not None:
                tables.setdefault(model, [])
        elif in_field_table and line.startswith("|") and model is not None:
            first_cell = line.split("|")[1]
            tables[model] += re.findall(r"`([a-z_]+)`", first_cell)
        elif not line.startswith("|"):
            in_field_table = False
    return tables


TABLES = field_tables(README.read_text("utf-8"))


def test_readme_parser_reads_a_field_table_under_a_model_heading() -> None:
    text = "## A\n### `Hold` (`hold:`)\n\n| Field | Meaning |\n|---|---|\n| `a`, `b` | x `c` |\n"
    assert field_tables(text) == {"Hold": ["a", "b"]}


def test_readme_parser_ignores_tables_that_are_not_field_tables() -> None:
    text = "### `Combination`\n| Field | Meaning |\n|---|---|\n| `id` | x |\n\n| id | x |\n| `z` | y |\n"
    assert field_tables(text) == {"Combination": ["id"]}


def test_readme_has_a_field_table_for_every_schema_model() -> None:
    assert sorted(MODELS.keys() - TABLES.keys()) == []


@pytest.mark.parametrize("name", sorted(MODELS))
def test_readme_field_table_names_exactly_the_model_fields(name: str) -> None:
    model = MODELS[name]
    listed = TABLES.get(name, [])
    assert sorted(set(listed) - set(model.model_fields)) == [], "not in the model"
    assert sorted(set(model.model_fields) - set(listed)) == [], "missing from cards/README.md"
    assert len(listed) == len(set(listed)), "listed twice"


def test_readme_topic_table_lists_every_live_topic_of_topics_yaml() -> None:
    text = README.read_text("utf-8").split("| Topic |", 1)[1].split("\n\n", 1)[0]
    in_readme = re.findall(r"^\| `([A-Z][A-Z0-9]+)` \|", text, flags=re.M)
    listed = TopicList.model_validate(load_yaml(TOPICS)).topics
    assert in_readme == [topic.id for topic in listed if topic.status != "retired"]
