"""Imports flow one way: HTTP edge -> service -> {fhir, meds, rules, render, audit} -> {hooks, domain, errors}."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cds_service"

# Modules of the pure core: no web framework, no HTTP client, no store, no settings.
PURE_CORE = (
    "domain",
    "lexicon",
    "meds",
    "orders",
    "rules",
    "render",
    "suggestions",
    "hooks",
    "errors",
)
FORBIDDEN_IN_CORE = (
    "fastapi",
    "starlette",
    "httpx",
    "uvicorn",
    "cds_service.audit",
    "cds_service.settings",
    "cds_service.app",
    "cds_service.api",
    "cds_service.service",
    "cds_service.fhir",
    "cds_service.auth",
    "sqlite3",
)
HTTPX_ALLOWED = ("fhir", "fhir_bundle", "auth", "jwks", "app", "cli", "bench")
UPWARD = {  # module -> modules it must never import
    "service": ("cds_service.api", "cds_service.app", "fastapi", "starlette"),
    "fhir": ("cds_service.api", "cds_service.app", "cds_service.service", "fastapi"),
    "audit": ("cds_service.api", "cds_service.app", "cds_service.service", "fastapi", "httpx"),
    "errors": ("fastapi", "httpx", "starlette"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_name(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _violations(imports: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports if any(i == f or i.startswith(f + ".") for f in forbidden))


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "_bundled_cards" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_point_only_downwards(path: Path) -> None:
    name = _module_name(path)
    imports = _imports(path)
    if name in PURE_CORE:
        assert _violations(imports, FORBIDDEN_IN_CORE) == []
    if name not in HTTPX_ALLOWED:
        assert _violations(imports, ("httpx",)) == []
    assert _violations(imports, UPWARD.get(name, ())) == []


def test_architecture_check_sees_the_pure_core() -> None:
    names = {_module_name(p) for p in MODULES}
    assert {"meds", "rules", "render", "lexicon", "orders"} <= names
