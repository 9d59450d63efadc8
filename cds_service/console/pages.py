"""Server-rendered pages: the Jinja2 templates and static assets shipped in this package."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from cds_service.console.analytics import rate
from cds_service.rules.knowledge import CompiledKnowledgeBase

# name -> media type; only these are ever served (no path from the request reaches the file system).
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "charts.js": "text/javascript; charset=utf-8",
    "vendor/chart.umd.min.js": "text/javascript; charset=utf-8",
    "vendor/LICENSE-chart.js.md": "text/plain; charset=utf-8",
    "vendor/LICENSE-kurkle-color.md": "text/plain; charset=utf-8",
}
PUBLIC_ASSETS = frozenset(
    {"console.css", "favicon.svg"}
)  # what the login page needs before a session exists
CHART_SCRIPTS = ("vendor/chart.umd.min.js", "charts.js")


@dataclass(frozen=True, slots=True)
class Provenance:
    """What every page says about the knowledge base it describes."""

    name: str
    version: str
    digest: str
    rxnorm: str
    checked_on: str

    @classmethod
    def of(cls, kb: CompiledKnowledgeBase) -> Provenance:
        manifest = kb.manifest
        return cls(
            name=manifest.name,
            version=manifest.version,
            digest=kb.digest[:12],
            rxnorm=" ".join(manifest.rxnorm_version.split()),
            checked_on=str(manifest.checked_on),
        )


def asset(name: str) -> bytes:
    """A static asset's bytes; KeyError for a name that is not one of ``ASSETS``."""
    if name not in ASSETS:
        raise KeyError(name)
    return (files("cds_service.console") / "static" / name).read_bytes()


class Pages:
    """Renders the console's templates with the knowledge base's provenance on every page."""

    def __init__(self, kb: CompiledKnowledgeBase) -> None:
        self._env = Environment(
            loader=PackageLoader("cds_service.console", "templates"),
            autoescape=select_autoescape(("html",)),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["percent"] = percent
        self._env.globals["rate"] = rate
        # Card details are markdown, shown as an EHR would; raw HTML in them is escaped, not rendered.
        markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
        self._env.filters["markdown"] = lambda text: Markup(markdown.render(text))  # noqa: S704
        self.provenance = Provenance.of(kb)

    def render(self, template: str, **context: Any) -> str:
        """One page; ``offline`` pages inline their style and scripts (a file opened from disk)."""
        context.setdefault("offline", False)
        context.setdefault("csrf", None)
        context.setdefault("active", "")
        if context["offline"]:
            context["inline_css"] = asset("console.css").decode("utf-8")
            context["inline_scripts"] = [asset(n).decode("utf-8") for n in CHART_SCRIPTS]
        return self._env.get_template(template).render(kb=self.provenance, **context)


def percent(value: float | None) -> str:
    """0.913 -> "91.3 %"; None (nothing to divide) -> "-"."""
    return "-" if value is None else f"{value * 100:.1f} %"
