"""What every knowledge-base file model shares: the strict base, code patterns, evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

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


class Reference(Strict):
    """One published source an evidence summary relies on."""

    citation: str = Field(
        min_length=5, description="Authors, journal or agency, year, and what the source shows."
    )
    url: HttpUrl = Field(
        description="https link to the source (PubMed, DOI, DailyMed, FDA); a PubMed search "
        "when the PubMed id was not verified, never an invented id."
    )


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
