"""Command line: ``serve``, ``evaluate``, ``plan``, ``kb``, ``feedback-report`` and ``bench`` (``python -m cds_service``).

The parser and the entry point; each command lives in the module of its kind."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from cds_service.cli.reports import feedback_report_command, kb_command, reason_displays
from cds_service.cli.requests import evaluate_command, plan_command, service_for
from cds_service.cli.serve import bench_command, listen_url, serve_command, serving_app
from cds_service.errors import ConfigurationInvalid, RuleSetInvalid
from cds_service.settings import Settings

__all__ = [
    "listen_url",
    "main",
    "reason_displays",
    "service_for",
    "serving_app",
    "settings_error_line",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cds-service`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as exc:
        print(f"error: invalid configuration: {settings_error_line(exc)}", file=sys.stderr)
        return 2
    try:
        result: int = args.run(args, settings)
    except RuleSetInvalid as exc:
        print(f"error: knowledge base invalid: {exc}", file=sys.stderr)
        return 2
    except ConfigurationInvalid as exc:
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return result


def settings_error_line(exc: ValidationError | SettingsError) -> str:
    """One line naming each setting that failed (``CDS_NAME``) and why; never the value's text."""
    if isinstance(exc, SettingsError):
        match = re.search(r'field "(\w+)"', str(exc))
        name = f"CDS_{match.group(1).upper()}" if match else "a setting"
        return f"{name}: not valid JSON (or not a valid value)"
    parts = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = f"CDS_{loc[0].upper()}" if loc else "settings"
        where = "".join(f"[{part}]" for part in loc[1:])
        parts.append(f"{name}{where}: {error['msg']}")
    return "; ".join(parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service under uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=serve_command)

    evaluate = commands.add_parser(
        "evaluate", help="evaluate one hook request offline and print the CDS Hooks response"
    )
    evaluate.add_argument("request", type=Path, help="a hook request JSON file ('-' for stdin)")
    evaluate.add_argument(
        "--service-id", default=None, help="service id to call (default: the configured one)"
    )
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="print the trace: each record as read, what each class made of it, the rule per card",
    )
    evaluate.add_argument("--json", action="store_true", help="with --explain: the trace as JSON")
    evaluate.set_defaults(run=evaluate_command)

    plan = commands.add_parser(
        "plan", help="print the patient's medicine plan for one hook request (text or --html)"
    )
    plan.add_argument("request", type=Path, help="a hook request JSON file ('-' for stdin)")
    plan.add_argument("--html", action="store_true", help="a printable HTML page instead of text")
    plan.add_argument(
        "--service-id", default=None, help="service id to call (default: the hook's own)"
    )
    plan.set_defaults(run=plan_command)

    kb = commands.add_parser("kb", help="check the knowledge base, or regenerate its schemas")
    kb.add_argument(
        "action",
        choices=("check", "schemas", "fuzzy"),
        help="list problems / write schema/ / the fuzzy matcher's false-match rate",
    )
    kb.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="default: the bundled cards/")
    kb.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="fuzzy: the RxNorm value-set folder (default: ../shared/reference/valuesets)",
    )
    kb.set_defaults(run=kb_command)

    report = commands.add_parser(
        "feedback-report", help="acceptance and override counts per card topic"
    )
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument(
        "--html", type=Path, metavar="FILE", help="write the console's analytics page, offline"
    )
    report.set_defaults(run=feedback_report_command)

    bench = commands.add_parser(
        "bench", help="benchmark the service against the bare HTTP stack (loopback only)"
    )
    bench.add_argument("--sizes", default="10,100,1000", help="history sizes, comma-separated")
    bench.add_argument("--concurrency", type=int, default=8)
    bench.add_argument("--duration", type=float, default=2.0, help="seconds per round and server")
    bench.add_argument("--rounds", type=int, default=3)
    bench.add_argument("--workers", type=int, default=1)
    bench.add_argument("--fhir-delay", type=float, default=0.1, help="seconds per FHIR request")
    bench.add_argument(
        "--no-compact",
        dest="compact",
        action="store_false",
        help="skip the issue's compact 100-medication shape (about 40 kB, BZD+STIM+LTG cards)",
    )
    bench.add_argument("--json", type=Path, default=None, help="also write the results here")
    bench.set_defaults(run=bench_command)
    return parser
