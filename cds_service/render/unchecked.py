"""The low-key card listing free-text entries nothing could classify ("2 entries could not be checked").

An info card of the data-gap topic, beside the class cards (it never replaces or hides one). The
entries appear in its detail only, as the EHR's own list shows them; the summary names none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cds_service.cdshooks.models import Card, Coding, Source
from cds_service.render.links import links_for
from cds_service.render.profiles import Profile

LISTED_MAX = 10  # entries listed by name; the rest are counted
ENTRY_CHARS = 80
_MARKDOWN = re.compile(r"[\\`*_\[\]()#<>!|~{}]")


def unchecked_card(
    entries: Sequence[str],
    source: Source,
    override_reasons: Sequence[Coding],
    profile: Profile,
    new_uuid: Callable[[], str],
) -> Card:
    """One info card naming the unclassified entries (``entries`` is never empty)."""
    count = len(entries)
    noun = "entry" if count == 1 else "entries"
    listed = [f"- {_short(entry)}" for entry in entries[:LISTED_MAX]]
    if count > LISTED_MAX:
        listed.append(f"- and {count - LISTED_MAX} more")
    detail = [
        f"**{count} medication list {noun} could not be checked**",
        "\n".join(listed),
        "They are free text that names no medicine the service recognises, even as a likely "
        "misspelling, so they were not checked for interactions with the ketamine infusion. "
        "Ask the patient what they are, or record them as coded medications.",
    ]
    verb = "was" if count == 1 else "were"
    return Card(
        uuid=new_uuid(),
        summary=f"{count} medication list {noun} {verb} not recognised and could not be checked",
        detail="\n\n".join(detail),
        indicator="info",
        source=source,
        overrideReasons=list(override_reasons),
        links=links_for([], profile),
        extension=dict(profile.card_extension) or None,
    )


def _short(entry: str) -> str:
    """One line, at most ENTRY_CHARS, with markdown's characters escaped (it is typed text)."""
    flat = " ".join(entry.split())
    flat = flat if len(flat) <= ENTRY_CHARS else flat[: ENTRY_CHARS - 1] + "…"
    return _MARKDOWN.sub(r"\\\g<0>", flat)
