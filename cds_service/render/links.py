"""A card's links: each reference once, labelled short enough to read, filtered by the client's
allowlist, and kept to a few on the shorter detail forms. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from cds_service.cdshooks.models import Link
from cds_service.render.profiles import DetailLevel, Profile
from cds_service.render.summary import truncate
from cds_service.rules.schema import Reference

MAX_LINKS: dict[DetailLevel, int | None] = {"brief": 2, "concise": 3, "full": None}
LABEL_MAX = 70
_AUTHOR = re.compile(r"^([A-Z][A-Za-z'-]+) [A-Z]{1,3}[,.]")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_TOPIC = re.compile(r"\(([^()]{4,60})\)\s*$")
_ASIDE = re.compile(r"\s*\([^()]*\)")


def link_label(citation: str) -> str:
    """ "Andrashko 2020: benzodiazepine dose and ketamine response" rather than the whole citation."""
    author, year = _AUTHOR.match(citation), _YEAR.search(citation)
    if author and year:
        topic = _TOPIC.search(citation)
        label = f"{author.group(1)} {year.group(0)}"
        return truncate(f"{label}: {topic.group(1)}" if topic else label, LABEL_MAX)
    plain = _ASIDE.sub("", citation)
    head = plain.split(", ", 1)[0]
    return truncate(head if len(head) >= 12 else plain, LABEL_MAX)


def reference_links(references: Iterable[Reference]) -> tuple[Link, ...]:
    """One link per URL, in the rule's order (the reviewers put the most relevant first)."""
    by_url = {str(ref.url): ref.citation for ref in references}
    return tuple(Link(label=link_label(citation), url=url) for url, citation in by_url.items())


@lru_cache(maxsize=1024)  # the knowledge base's few dozen URLs, parsed once each
def host_of(url: str) -> str:
    """The URL's host, lower case ("" when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def links_for(links: Iterable[Link], profile: Profile) -> list[Link] | None:
    """The links this client may show, each URL once, at most as many as its detail form allows."""
    seen: dict[str, Link] = {}
    for link in links:
        if profile.allows_link(host_of(link.url)):
            seen.setdefault(link.url, link)
    kept = list(seen.values())[: MAX_LINKS[profile.detail]]
    return kept or None
