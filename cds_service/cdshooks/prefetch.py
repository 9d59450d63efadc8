"""Prefetch templates this service declares, and how a template becomes a query for one request.

Only CDS Hooks 2.0.1 root-level tokens are used ({{context.patientId}}): nested draftOrders tokens are
invalid in 2.0.1, so the draft orders are always read from ``context.draftOrders``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

PATIENT = "patient"
MEDICATION_STATEMENTS = "medicationStatements"
MEDICATION_REQUESTS = "medicationRequests"
APPOINTMENTS = "appointments"
CONDITIONS = "conditions"
SOCIAL_HISTORY = "socialHistory"
BLOOD_PRESSURE = "bloodPressure"

# Stopped and completed records are asked for too: washout rules (an MAOI stopped five days ago) need them.
# Comma-separated token values are an OR in FHIR search; _count keeps pages a sensible size; _include
# brings referenced Medications in the same answer (Epic's shape), so they cost no second round trip.
TEMPLATES: dict[str, str] = {
    PATIENT: "Patient/{{context.patientId}}",
    MEDICATION_STATEMENTS: (
        "MedicationStatement?patient={{context.patientId}}"
        "&status=active,intended,on-hold,stopped,completed&_count=100"
        "&_include=MedicationStatement:medication"
    ),
    MEDICATION_REQUESTS: (
        "MedicationRequest?patient={{context.patientId}}"
        "&status=active,on-hold,stopped,completed&_count=100"
        "&_include=MedicationRequest:medication"
    ),
    # Appointments not yet over; 2.0.1 has no date token ({{today()}} is a 3.0 ballot form), so the
    # dates are filtered by the service, and the latest come first: paging cut-offs lose old ones.
    APPOINTMENTS: (
        "Appointment?patient={{context.patientId}}"
        "&status=proposed,pending,booked,arrived,checked-in&_sort=-date&_count=100"
    ),
    # The patient's context (issue 12): active Conditions (problem list, diagnoses: epilepsy, use
    # disorders, hypertension; a medication's reasonReference resolves against them), social
    # history (alcohol, AUDIT-C, drug use) and the latest blood-pressure panels.
    CONDITIONS: (
        "Condition?patient={{context.patientId}}&clinical-status=active,recurrence,relapse&_count=100"
    ),
    SOCIAL_HISTORY: (
        "Observation?patient={{context.patientId}}&category=social-history&_sort=-date&_count=50"
    ),
    BLOOD_PRESSURE: (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|85354-9"
        "&_sort=-date&_count=10"
    ),
}
# How a data gap names each key's list ("Condition list"); the type's list when not given.
LABELS: dict[str, str] = {
    SOCIAL_HISTORY: "Social-history Observation list",
    BLOOD_PRESSURE: "Blood-pressure Observation list",
}

# The keys whose data the clinical rules need: when none of them can be read the answer is a 412 (or a
# data-gap card); losing one of them is a data gap.
MEDICATION_KEYS: tuple[str, ...] = (MEDICATION_STATEMENTS, MEDICATION_REQUESTS)
# Keys that shape the cards but are not the medication list (a hook or a rule asks for them through
# ``HookSpec.context_keys``): a key that cannot be read, or a server without the search, is a data
# gap, never a 412. Each new key is one TEMPLATES entry plus its name here.
CONTEXT_KEYS: tuple[str, ...] = (APPOINTMENTS, CONDITIONS, SOCIAL_HISTORY, BLOOD_PRESSURE)
# The keys every hook that evaluates the medications reads beside them (conditions and substance use).
PATIENT_KEYS: tuple[str, ...] = (CONDITIONS, SOCIAL_HISTORY, BLOOD_PRESSURE)


@dataclass(frozen=True, slots=True)
class PrefetchQuery:
    key: str
    resource_type: str
    relative_url: str  # relative to fhirServer, tokens filled in and URL-encoded

    @property
    def what(self) -> str:
        """How a data gap names this key's list ("MedicationStatement list")."""
        return LABELS.get(self.key, f"{self.resource_type} list")


def key_shape(key: str) -> tuple[str, str]:
    """A key's list as a data gap names it, and the resource type it searches (no patient needed)."""
    known = (key, TEMPLATES[key])
    shape = _SHAPES.get(known)
    if shape is None:  # read from each key's template once
        query = render_query(key, "-")
        shape = _SHAPES[known] = (query.what, query.resource_type)
    return shape


def render_query(key: str, patient_id: str) -> PrefetchQuery:
    """The query a template stands for, for one patient (the id is URL-encoded)."""
    template = TEMPLATES[key]
    url = template.replace("{{context.patientId}}", quote(patient_id, safe=""))
    resource_type = url.split("?", 1)[0].split("/", 1)[0]
    return PrefetchQuery(key=key, resource_type=resource_type, relative_url=url)


# (key, its template) -> (what, resource type): a prefetched key needs no query.
_SHAPES: dict[tuple[str, str], tuple[str, str]] = {}
