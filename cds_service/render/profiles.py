"""EHR profiles: how one kind of client is answered, chosen once per request. Pure.

- ``spec``: CDS Hooks 2.0.1. Every hold goes into one update of the draft order, repeated on each card
  that offers it, so accepting every suggestion keeps every hold note (an update replaces the resource).
- ``epic``: Epic's documented card rules: ``selectionBehavior`` ``any`` only, one action per suggestion,
  no MedicationRequest update (the hold is card text, plus a ServiceRequest pre-procedure instruction
  when the site configured its preference-list code), created orders only with a preference-list code
  (Epic takes every order detail from it), a static alphanumeric topic code of at most 100 characters.
- ``oracle``: Oracle Health shows non-critical cards in a narrow sidebar and critical ones as pop-ups:
  the brief detail, links only to allowlisted hosts (others are stripped there anyway), and critical
  only for the classes that must interrupt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from cds_service.errors import RuleSetInvalid

ProfileName = Literal["spec", "epic", "oracle"]
DetailLevel = Literal["brief", "concise", "full"]
SelectionBehavior = Literal["at-most-one", "any"]
EPIC_PREFERENCE_LIST = "urn:com.epic.cdshooks.action.code.system.preference-list-item"
EPIC_REQUEST_PREFIX = "com.epic.cdshooks.request."
EPIC_DETAIL_TYPE = "com.epic.cdshooks.card.detail.content-type"
EPIC_TOPIC_MAX = 100


@dataclass(frozen=True, slots=True)
class Profile:
    """What a renderer needs to know about the client it answers."""

    name: ProfileName
    selection_behavior: SelectionBehavior
    detail: DetailLevel
    # "update": holds go into one update of the draft order; "instruction": card text, plus a
    # ServiceRequest pre-procedure instruction when a preference-list code is configured.
    hold_as: Literal["update", "instruction"] = "update"
    # Suggestion kind -> the site's preference-list item code; with ``codes_required`` an order is
    # created only when its kind has one.
    preference_codes: Mapping[str, str] = field(default_factory=dict)
    codes_required: bool = False
    link_hosts: frozenset[str] | None = None  # None: every link; else only links to these hosts
    critical_only_interruptive: bool = False
    card_extension: Mapping[str, str] = field(default_factory=dict)

    def allows_link(self, host: str) -> bool:
        """Whether a link to ``host`` may go out to this client."""
        return self.link_hosts is None or host.lower() in self.link_hosts

    def check_topics(self, codes: Iterable[str]) -> None:
        """Refuse at start-up a topic code this client cannot store (Epic: alphanumeric, <= 100)."""
        if self.name != "epic":
            return
        for code in codes:
            if not code.isalnum() or len(code) > EPIC_TOPIC_MAX:
                raise RuleSetInvalid(
                    f"topic code {code[:120]!r}: Epic needs alphanumeric codes of at most 100 characters"
                )


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """The site's profiles and how one is chosen for a request."""

    profiles: Mapping[ProfileName, Profile]
    configured: ProfileName | None = None  # CDS_EHR_PROFILE; None: spec, or epic when detected

    def choose(self, extension_keys: Iterable[str]) -> Profile:
        """The configured profile, else Epic when the request carries Epic's extensions, else spec."""
        if self.configured is not None:
            return self.profiles[self.configured]
        if any(key.startswith(EPIC_REQUEST_PREFIX) for key in extension_keys):
            return self.profiles["epic"]
        return self.profiles["spec"]


def build_profiles(
    *,
    selection_behavior: SelectionBehavior = "at-most-one",
    detail: DetailLevel | None = None,
    link_hosts: Iterable[str] = (),
    preference_codes: Mapping[str, str] | None = None,
) -> Mapping[ProfileName, Profile]:
    """The three profiles with one site's settings (``detail`` None: each profile's own default)."""
    hosts = frozenset(host.lower() for host in link_hosts)
    codes = MappingProxyType(dict(preference_codes or {}))
    profiles: dict[ProfileName, Profile] = {
        "spec": Profile("spec", selection_behavior, detail or "concise", link_hosts=hosts or None),
        "epic": Profile(
            "epic",
            "any",
            detail or "concise",
            hold_as="instruction",
            preference_codes=codes,
            codes_required=True,
            link_hosts=hosts or None,
            card_extension=MappingProxyType({EPIC_DETAIL_TYPE: "text/markdown"}),
        ),
        "oracle": Profile(
            "oracle",
            selection_behavior,
            detail or "brief",
            link_hosts=hosts,
            critical_only_interruptive=True,
        ),
    }
    return MappingProxyType(profiles)
