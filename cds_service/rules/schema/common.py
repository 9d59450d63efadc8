"""What every knowledge-base file model shares: the strict base, code patterns, evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

Indicator = Literal["info", "warning", "critical"]
Grade = Literal["A", "B", "C", "D"]
Status = Literal["draft", "active", "shadow", "retired"]
TOPIC_PATTERN = r"^[A-Z][A-Z0-9]{1,15}$"
INGREDIENT_PATTERN = r"^[a-z][a-z0-9 ,'()-]*$"


class FieldProblem(ValueError):
    """A model validator's complaint about one field; the loader reports it at that field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Strict(BaseModel):
    """Our own data: an unknown field is a typo and stops start-up; a loaded model never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Addresses that list search results rather than one source: never a verified identifier.
_SEARCH_MARKERS = ("?term=", "search.cfm", "/search?", "search?q=")


class Reference(Strict):
    """One published source an evidence summary relies on, with the identifiers that were checked."""

    citation: str = Field(
        min_length=5, description="Authors, journal or agency, year, and what the source shows."
    )
    url: HttpUrl = Field(
        description="https link to the source: the PubMed record or DOI when one was verified, else "
        "the page that was read; a search when nothing better was verified (then verified: false). "
        "Never an invented id."
    )
    pmid: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]{0,8}$",
        description="The PubMed id, only when it was seen to belong to this paper.",
    )
    doi: str | None = Field(
        default=None,
        pattern=r"^10\.[0-9]{4,9}/\S+$",
        description="The DOI, only when it was seen to belong to this paper.",
    )
    verified: bool = Field(
        default=True,
        description="false when no identifier (PMID, DOI, label set id or official page) could be "
        "verified for the source: its url is then a search or a secondary copy, and the rule's "
        "evidence summary says the citation is unverified.",
    )
    note: str | None = Field(
        default=None, description="What was and was not verified, for a reviewer."
    )

    @model_validator(mode="after")
    def _identifiers_agree(self) -> Reference:
        url = str(self.url)
        if self.verified and any(marker in url for marker in _SEARCH_MARKERS):
            raise FieldProblem("url", "a search is not a verified source: set verified: false")
        if self.pmid and self.doi is None and f"/{self.pmid}" not in url:
            raise FieldProblem("url", f"does not point at PubMed id {self.pmid}")
        if self.doi and self.pmid is None and self.doi.lower() not in url.lower():
            raise FieldProblem("url", f"does not point at DOI {self.doi}")
        if not self.verified and (self.pmid or self.doi):
            raise FieldProblem("verified", "a reference with a verified PMID or DOI is verified")
        return self


class Evidence(Strict):
    """How strong the reason for a card is, and where it comes from."""

    grade: Grade = Field(
        description="A label/FDA, B RCT or PK study, C secondary or observational, "
        "D case reports, mechanism or clinic practice."
    )
    summary: str = Field(
        min_length=10, description="The evidence in two or three sentences, stating its grade."
    )
    references: tuple[Reference, ...] = Field(
        min_length=1, description="The sources the summary cites."
    )
