"""CDS Hooks 2.0.1 wire models (pydantic): requests in, discovery, cards and feedback out. No behaviour.

Inbound models are tolerant (unknown fields allowed: clients add their own); outbound models are strict and
are serialised with ``exclude_none`` because the spec bans ``null`` and empty optional values.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Indicator = Literal["info", "warning", "critical"]
HOOK_ORDER_SIGN = "order-sign"
HOOK_ORDER_SELECT = "order-select"
HOOK_MEDICATION_PRESCRIBE = "medication-prescribe"
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- requests


class FhirAuthorization(_Inbound):
    access_token: str = Field(min_length=1, repr=False)
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    # Test clients have omitted expires_in and scope (cds-hooks/sandbox #65): accept them missing.
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookContext(_Inbound):
    """What every hook's context carries; each hook's own model (``cdshooks.hooks``) extends it."""

    userId: str = Field(min_length=1)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class OrderContext(HookContext):
    """Context of order-sign and order-select (and legacy medication-prescribe, mapped onto it)."""

    draftOrders: dict[str, Any]
    selections: tuple[str, ...] | None = None


class HookRequest(_Inbound):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1, max_length=128)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    # Validated by the hook's own context model at intake; a subclass instance of HookContext.
    context: HookContext
    prefetch: dict[str, Any] | None = None
    # Namespaced client extensions (Epic sends com.epic.cdshooks.request.*); read, never required.
    extension: Any = None

    @property
    def extension_keys(self) -> tuple[str, ...]:
        """The keys of the request's ``extension`` object (none when it is absent or not an object)."""
        return tuple(self.extension) if isinstance(self.extension, dict) else ()


# ---------------------------------------------------------------- discovery


class ServiceDescriptor(_Outbound):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class Discovery(_Outbound):
    services: list[ServiceDescriptor]


# ---------------------------------------------------------------- cards


class Coding(_Outbound):
    system: str
    code: str
    display: str | None = None


class Source(_Outbound):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Link(_Outbound):
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    appContext: str | None = None


class Action(_Outbound):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Outbound):
    label: str
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action]


class Card(_Outbound):
    uuid: str
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None


class CdsResponse(_Outbound):
    cards: list[Card]

    def to_json_dict(self) -> dict[str, Any]:
        """The body as sent: optional fields left out, never null."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json_bytes(self) -> bytes:
        """The same body, serialised: what the HTTP route sends."""
        return self.model_dump_json(exclude_none=True).encode()


# ---------------------------------------------------------------- feedback


class AcceptedSuggestion(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str = Field(min_length=1)


class FeedbackCoding(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    system: str | None = None
    code: str = Field(min_length=1, max_length=200)
    display: str | None = Field(default=None, max_length=500)


class OverrideReasonFeedback(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    reason: FeedbackCoding | None = None
    userComment: str | None = Field(default=None, max_length=4000)


# The rule of _accepted_needs_suggestions below, as JSON Schema for the OpenAPI document.
_ACCEPTED_NEEDS_SUGGESTIONS: dict[str, Any] = {
    "if": {"properties": {"outcome": {"const": "accepted"}}, "required": ["outcome"]},
    "then": {
        "required": ["acceptedSuggestions"],
        "properties": {"acceptedSuggestions": {"type": "array", "minItems": 1}},
    },
}


class FeedbackItem(BaseModel):
    model_config = ConfigDict(
        extra="allow", frozen=True, json_schema_extra=_ACCEPTED_NEEDS_SUGGESTIONS
    )
    card: str = Field(min_length=1, max_length=128)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[AcceptedSuggestion, ...] | None = None
    overrideReason: OverrideReasonFeedback | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        # RFC 3339 section 5.6 date-time: a date alone or a time without an offset is not one.
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2021-12-11T10:05:31Z")
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        return self


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    feedback: tuple[FeedbackItem, ...] = Field(min_length=1, max_length=1000)
