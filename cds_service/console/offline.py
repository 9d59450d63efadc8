"""The analytics page as one file for a site without the console (``feedback-report --html``)."""

from __future__ import annotations

from cds_service.console.advice import FlagPolicy
from cds_service.console.analytics import build_analytics
from cds_service.console.pages import Pages
from cds_service.rules.knowledge import CompiledKnowledgeBase
from cds_service.store.analytics import RuleOutcomes
from cds_service.store.opening import open_store


def analytics_file(
    outcomes: RuleOutcomes, kb: CompiledKnowledgeBase, override_rate: float, min_cards: int
) -> str:
    """The same page the console serves, with its stylesheet and chart scripts inlined."""
    report = build_analytics(outcomes, kb, FlagPolicy(override_rate, min_cards))
    return Pages(kb).render(
        "analytics.html",
        title="Override analytics",
        offline=True,
        analytics=report,
        chart=report.chart_data(),
    )


async def analytics_file_from_store(
    database_url: str, kb: CompiledKnowledgeBase, override_rate: float, min_cards: int
) -> str:
    """Open the store the URL names, read its analytics and render the file; raises when it cannot."""
    store = await open_store(database_url, timeout_seconds=5.0)
    try:
        outcomes = await store.rule_outcomes()
    finally:
        await store.close()
    return analytics_file(outcomes, kb, override_rate, min_cards)
