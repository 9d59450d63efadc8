"""Imports flow one way, package by package: the HTTP edge down to a pure core that knows no I/O.

Each unit of ``cds_service`` (a subpackage, or a top-level module) may import only the units listed
for it below; the pure core (``clinical``, ``rules``, ``render``) imports no web framework, HTTP client
or database driver. The lists are the architecture: adding an edge here is a design decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cds_service"

# unit -> the units of cds_service it may import (itself always allowed). Bottom to top.
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "logs": frozenset(),
    "clinical": frozenset({"errors"}),
    "rules": frozenset({"clinical", "errors"}),
    "render": frozenset({"rules", "clinical", "errors", "cdshooks.models"}),
    "cdshooks": frozenset({"clinical", "rules", "errors"}),
    "fhir": frozenset({"cdshooks", "clinical", "errors"}),
    "auth": frozenset({"errors"}),
    "store": frozenset({"cdshooks", "errors"}),
    # Operations (metrics): reads the wire Card and the DataGap type to label series, nothing else.
    "ops": frozenset({"cdshooks.models", "clinical", "errors"}),
    # settings validates the FHIR bases of the outbound allowlist with fhir.urls' one definition.
    "settings": frozenset({"rules", "auth", "fhir", "errors"}),
    "service": frozenset(
        {"cdshooks", "fhir", "store", "render", "rules", "clinical", "errors", "logs"}
    ),
    # web may read ops: the /metrics route and the request-metering middleware.
    "web": frozenset({"service", "auth", "cdshooks", "errors", "logs", "ops"}),
    # The rule owners' console sits at the HTTP edge beside web: it reads the store's analytics,
    # the compiled knowledge base, and (explain) the service's pipeline; it reuses web's body limits.
    "console": frozenset(
        {"web", "service", "store", "rules", "render", "clinical", "cdshooks", "errors"}
    ),
    "app": frozenset(
        {"web", "service", "settings", "fhir", "auth", "store", "render", "rules", "clinical"}
        | {"cdshooks", "errors", "logs", "ops", "console"}
    ),
    # cli writes the console's analytics page offline (feedback-report --html).
    "cli": frozenset(
        {"app", "web", "service", "settings", "fhir", "store", "rules", "render", "clinical"}
        | {"cdshooks", "errors", "logs", "bench", "console"}
        | {"ops"}  # serve settles the process (ops.runtime) once the app is built
    ),
    # percall times the real app in process, settled as serve settles it
    "bench": frozenset({"app", "ops"}),
    "__main__": frozenset({"cli"}),
    "__init__": frozenset(),
}
PURE_CORE = ("clinical", "rules", "render")
THIRD_PARTY_IO = (
    "fastapi",
    "starlette",
    "httpx",
    "httpcore",
    "uvicorn",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
)
HTTPX_USERS = frozenset({"fhir", "auth", "app", "cli", "bench", "ops"})
# Below httpx: only fhir's connection pools open sockets themselves (addresses checked at connect).
HTTPCORE_USERS = frozenset({"fhir"})
# Wire models are plain pydantic types: the renderer builds them without knowing the rest of cdshooks.
NARROW_UNITS = ("cdshooks.models",)

MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "_bundled_cards" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "cds_service":
                names.update(f"cds_service.{alias.name}" for alias in node.names)
    return names


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _internal_unit(name: str) -> str | None:
    """The unit an import of ``cds_service.x.y`` lands in (a narrow unit when it is one)."""
    if not name.startswith("cds_service."):
        return None
    rest = name.removeprefix("cds_service.")
    for narrow in NARROW_UNITS:
        if rest == narrow or rest.startswith(narrow + "."):
            return narrow
    return rest.split(".", 1)[0]


def _allowed(unit: str, target: str) -> bool:
    allowed = ALLOWED[unit]
    root = target.split(".", 1)[0]
    return root == unit or target in allowed or root in allowed


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_the_units_below_it(path: Path) -> None:
    unit = _unit(path)
    assert unit in ALLOWED, f"{unit} is a new unit: place it in the architecture"
    targets = {t for t in map(_internal_unit, _imports(path)) if t is not None}
    assert sorted(t for t in targets if not _allowed(unit, t)) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_core_and_edges_import_no_io_library_they_do_not_own(path: Path) -> None:
    unit = _unit(path)
    imports = _imports(path)
    roots = {name.split(".", 1)[0] for name in imports}
    if unit in PURE_CORE:
        assert sorted(roots & set(THIRD_PARTY_IO)) == []
    if unit not in HTTPX_USERS:
        assert "httpx" not in roots
    if unit not in HTTPCORE_USERS:
        assert "httpcore" not in roots


def test_architecture_check_sees_every_package() -> None:
    units = {_unit(p) for p in MODULES}
    assert {"clinical", "rules", "render", "cdshooks", "fhir", "auth", "store", "web"} <= units
    assert "console" in units
    assert {"app", "settings", "errors", "service", "cli"} <= units


def test_top_level_holds_at_most_eight_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 8, modules


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in MODULES
        if (n := len(p.read_text("utf-8").splitlines())) > 400
    }
    assert long == {}
