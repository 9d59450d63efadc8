"""``kb`` and ``feedback-report``: the knowledge base checked, and what clinicians did with the cards."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cds_service.settings import Settings

if TYPE_CHECKING:
    from cds_service.rules.schema import RuleSpec
    from cds_service.store.records import TopicFeedback


def kb_command(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.rules import loader
    from cds_service.settings import default_cards_dir

    cards_dir = args.dir or default_cards_dir()
    if args.action == "schemas":
        return loader.schemas_command(cards_dir)
    if args.action == "fuzzy":
        from cds_service.rules.fuzzy_check import default_reference_dir, fuzzy_command

        return fuzzy_command(cards_dir, args.reference or default_reference_dir())
    return loader.check_command(cards_dir)


def feedback_report_command(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.rules.loader import load_knowledge_base

    if args.html is not None:
        return _html_report(args.html, settings)
    from cds_service.store.opening import open_store
    from cds_service.store.report import report_json, report_lines

    async def fetch() -> list[TopicFeedback]:
        store = await open_store(settings.effective_database_url, timeout_seconds=5.0)
        try:
            return list(await store.feedback_report())
        finally:
            await store.close()

    try:
        rows = asyncio.run(fetch())
    except Exception as exc:  # the store could not be opened or read: say which kind, no traceback
        print(f"error: the store is unavailable: {_store_problem(exc)}", file=sys.stderr)
        return 1
    displays = reason_displays(load_knowledge_base(settings.cards_dir).rules)
    if args.json:
        print(json.dumps([report_json(row, displays) for row in rows], indent=2))
        return 0
    print("\n".join(report_lines(rows, displays)))
    return 0


def _html_report(path: Path, settings: Settings) -> int:
    """The console's analytics page as one self-contained file (charts inlined, no network)."""
    from cds_service.console.offline import analytics_file_from_store
    from cds_service.rules.knowledge import compile_knowledge_base
    from cds_service.rules.loader import load_knowledge_base

    kb = compile_knowledge_base(load_knowledge_base(settings.cards_dir), settings.rule_overrides)
    limits = (settings.console_flag_override_rate, settings.console_flag_min_cards)
    try:
        page = asyncio.run(analytics_file_from_store(settings.effective_database_url, kb, *limits))
    except Exception as exc:  # the store could not be opened or read: say which kind, no traceback
        print(f"error: the store is unavailable: {_store_problem(exc)}", file=sys.stderr)
        return 1
    try:
        path.write_text(page, "utf-8")
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _store_problem(exc: Exception) -> str:
    message = getattr(exc, "message", None) or getattr(exc, "strerror", None)
    return str(message) if message else type(exc).__name__


def reason_displays(rules: Sequence[RuleSpec]) -> dict[tuple[str, str], str]:
    """(topic, override code) -> the display text the card offered; "" topic: any card's."""
    displays: dict[tuple[str, str], str] = {}
    for rule in rules:
        for reason in rule.override_reasons:
            displays[(rule.id, reason.code)] = reason.display
            displays.setdefault(("", reason.code), reason.display)
    return displays
