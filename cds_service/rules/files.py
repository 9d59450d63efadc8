"""Where the files of a knowledge base are, and reading one into its model with every problem kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cds_service.rules.catalogue import Problem
from cds_service.rules.schema import FieldProblem

CASES_SUFFIX = ".cases.yaml"

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Layout:
    """The files of the knowledge base rooted at ``root`` (a ``cards/`` directory)."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "knowledge-base.yaml"

    @property
    def topics(self) -> Path:
        return self.root / "topics.yaml"

    @property
    def patient_instructions(self) -> Path:
        """``patient/instructions.yaml``: optional; without it no patient text is written."""
        return self.root / "patient" / "instructions.yaml"

    @property
    def patient_context(self) -> Path:
        """``patient-context.yaml``: optional; without it substances and conditions are not read."""
        return self.root / "patient-context.yaml"

    @property
    def rules_dir(self) -> Path:
        return self.root / "rules"

    def rule_paths(self) -> list[Path]:
        """``rules/<TOPIC>.yaml``, sorted."""
        return sorted(p for p in self.rules_dir.glob("*.yaml") if not p.name.endswith(CASES_SUFFIX))

    def case_paths(self) -> list[Path]:
        """``rules/<TOPIC>.cases.yaml``, sorted."""
        return sorted(self.rules_dir.glob(f"*{CASES_SUFFIX}"))

    def table_paths(self) -> list[Path]:
        """``valuesets/*.yaml``, sorted."""
        return sorted((self.root / "valuesets").glob("*.yaml"))

    def label(self, path: Path) -> str:
        """How messages name a file: ``cards/rules/BZD.yaml``."""
        return (Path(self.root.name) / path.relative_to(self.root)).as_posix()


def topic_of(path: Path) -> str:
    """The topic a rule or cases file name gives: ``BZD`` for ``BZD.yaml`` and ``BZD.cases.yaml``."""
    return path.name.removesuffix(CASES_SUFFIX).removesuffix(".yaml")


def read(layout: Layout, path: Path, model: type[_Model]) -> tuple[_Model | None, list[Problem]]:
    """The file as ``model``, or None and every problem found in it (each with its field)."""
    label = layout.label(path)
    try:
        data = yaml.load(path.read_bytes(), Loader=_YamlLoader)  # noqa: S506 (a safe loader)
    except FileNotFoundError:
        return None, [Problem(label, "", "file not found")]
    except OSError as exc:
        return None, [Problem(label, "", f"cannot be read: {exc.strerror}")]
    except yaml.YAMLError as exc:
        return None, [Problem(label, "", f"not valid YAML: {_yaml_problem(exc)}")]
    if not isinstance(data, dict):
        return None, [Problem(label, "", "expected a mapping at the top level")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_problem(label, error) for error in exc.errors(include_url=False)]


def _problem(label: str, error: ErrorDetails) -> Problem:
    where = field_path(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblem):
        return Problem(label, f"{where}.{cause.field}" if where else cause.field, cause.message)
    return Problem(label, where, error["msg"])


def field_path(loc: Iterable[int | str]) -> str:
    """``members[2].name`` from pydantic's ``("members", 2, "name")``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)
