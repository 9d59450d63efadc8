"""Prometheus series of the service (``CDS_METRICS=on``); labels come from small fixed vocabularies.

No label ever carries a patient id, a token, a URL or free text: routes are templates, hooks and
topics come from the knowledge base and the hook registry, data-gap reasons are classified into
``GAP_REASONS``. With several worker processes (``serve --workers N``) the series are kept in
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from cds_service.cdshooks.models import Card
from cds_service.clinical.types import DataGap

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# (reason label, words that identify it in a gap's text), first match wins.
GAP_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("deadline", ("deadline",)),
    ("timeout", ("timed out", "timeout", "did not answer in time")),
    ("unreachable", ("could not be reached", "unreachable")),
    ("too-large", ("larger than this service reads",)),
    ("truncated", ("only the first", "page(s) read", "are read per call")),
    ("not-supported", ("does not support", "not supported")),
    ("no-server", ("no fhirserver",)),
    (
        "server-refused",
        ("not https", "not an http", "not allowed", "allowlist", "may call", "plain base url"),
    ),
    ("internal-error", ("internal error",)),
    ("bad-answer", ("sent", "not fhir", "json", "could not be read")),
    ("unavailable", ("prefetch", "unavailable", "could not")),
)


def gap_reason(text: str) -> str:
    """The fixed label for a data gap's (free-text) reason; ``other`` when none matches."""
    lowered = text.lower()
    for label, words in GAP_REASONS:
        if any(word in lowered for word in words):
            return label
    return "other"


class Metrics:
    """The series, registered on a registry of their own (one per app: tests build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "cds_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.http_latency = Histogram(
            "cds_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.evaluations = Counter(
            "cds_evaluations", "Hook evaluations", ["hook", "outcome"], registry=r
        )
        self.cards = Counter("cds_cards", "Cards returned", ["topic", "indicator"], registry=r)
        self.data_gaps = Counter("cds_data_gaps", "Data gaps reported", ["reason"], registry=r)
        self.fhir_requests = Counter(
            "cds_fhir_requests", "Requests to EHR FHIR servers", ["outcome"], registry=r
        )
        self.fhir_latency = Histogram(
            "cds_fhir_request_duration_seconds",
            "Time to a FHIR server's answer headers",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.feedback = Counter(
            "cds_feedback", "Feedback items newly stored", ["topic", "outcome"], registry=r
        )

    # ------------------------------------------------------------ the service's observer

    def evaluated(self, hook: str, outcome: str, cards: Sequence[Card]) -> None:
        self.evaluations.labels(hook, outcome).inc()
        for card in cards:
            topic = card.source.topic.code if card.source.topic else "UNKNOWN"
            self.cards.labels(topic, card.indicator).inc()

    def gaps(self, gaps: Sequence[DataGap]) -> None:
        for gap in gaps:
            self.data_gaps.labels(gap_reason(gap.reason)).inc()

    def feedback_stored(self, topic: str, outcome: str) -> None:
        self.feedback.labels(topic, outcome).inc()

    # ------------------------------------------------------------ edges

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_latency.labels(route, method, str(status)).observe(seconds)

    def fhir_request(self, outcome: str, seconds: float) -> None:
        self.fhir_requests.labels(outcome).inc()
        self.fhir_latency.labels(outcome).observe(seconds)

    def exposition(self) -> bytes:
        """The text format; with several workers, the sum over every worker's files."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
