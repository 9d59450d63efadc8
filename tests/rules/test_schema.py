"""The knowledge-base schema documents itself: every model and every field carries a description."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from cds_service.rules import schema

MODELS = sorted(
    (
        value
        for value in vars(schema).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not schema.Strict
    ),
    key=lambda model: model.__name__,
)


def test_schema_models_include_every_file_kind() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"Manifest", "RuleSpec", "CaseFile", "TopicList", "ProductCodeTable"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_schema_model_has_a_docstring(model: type[BaseModel]) -> None:
    assert (model.__doc__ or "").strip()


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_schema_every_field_has_a_description(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_schema_json_carries_every_field_description(model: type[BaseModel]) -> None:
    properties = model.model_json_schema()["properties"]
    assert all(properties[name].get("description") for name in model.model_fields)
