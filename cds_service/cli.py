"""Command line: ``serve``, ``evaluate``, ``kb check``, ``feedback-report`` (``--html``) and ``bench`` (``python -m cds_service``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError
from pydantic_settings import SettingsError

from cds_service.errors import (
    CdsError,
    ConfigurationInvalid,
    DataUnavailable,
    RequestRejected,
    RuleSetInvalid,
)
from cds_service.fhir.urls import is_loopback
from cds_service.settings import Settings
from cds_service.web.body import parse_json

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fastapi import FastAPI

    from cds_service.render.patient import PatientPlan
    from cds_service.rules.schema import RuleSpec
    from cds_service.service import CdsService
    from cds_service.store.records import TopicFeedback

log = logging.getLogger("cds_service.cli")
_T = TypeVar("_T")


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
    serve.set_defaults(run=_serve)

    evaluate = commands.add_parser(
        "evaluate", help="evaluate one hook request offline and print the CDS Hooks response"
    )
    evaluate.add_argument("request", type=Path, help="a hook request JSON file ('-' for stdin)")
    evaluate.add_argument(
        "--service-id", default=None, help="service id to call (default: the configured one)"
    )
    evaluate.set_defaults(run=_evaluate)

    plan = commands.add_parser(
        "plan", help="print the patient's medicine plan for one hook request (text or --html)"
    )
    plan.add_argument("request", type=Path, help="a hook request JSON file ('-' for stdin)")
    plan.add_argument("--html", action="store_true", help="a printable HTML page instead of text")
    plan.add_argument(
        "--service-id", default=None, help="service id to call (default: the hook's own)"
    )
    plan.set_defaults(run=_plan)

    kb = commands.add_parser("kb", help="check the knowledge base, or regenerate its schemas")
    kb.add_argument("action", choices=("check", "schemas"), help="list problems / write schema/")
    kb.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="default: the bundled cards/")
    kb.set_defaults(run=_kb)

    report = commands.add_parser(
        "feedback-report", help="acceptance and override counts per card topic"
    )
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument(
        "--html", type=Path, metavar="FILE", help="write the console's analytics page, offline"
    )
    report.set_defaults(run=_feedback_report)

    bench = commands.add_parser(
        "bench", help="benchmark the service against the bare HTTP stack (loopback only)"
    )
    bench.add_argument("--sizes", default="10,100,1000", help="history sizes, comma-separated")
    bench.add_argument("--concurrency", type=int, default=8)
    bench.add_argument("--duration", type=float, default=2.0, help="seconds per round and server")
    bench.add_argument("--rounds", type=int, default=3)
    bench.add_argument("--workers", type=int, default=1)
    bench.add_argument("--fhir-delay", type=float, default=0.1, help="seconds per FHIR request")
    bench.add_argument("--json", type=Path, default=None, help="also write the results here")
    bench.set_defaults(run=_bench)
    return parser


# ------------------------------------------------------------------ serve


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.port < 65536:
        print(f"error: --port {args.port}: must be between 1 and 65535", file=sys.stderr)
        return 2
    if settings.auth == "off" and not is_loopback(args.host):
        if not settings.allow_unauthenticated_public_bind:
            print(
                f"error: refusing to bind {args.host} with CDS_AUTH=off: anyone who can reach it "
                "could send patient data. Set CDS_AUTH=jwt, or CDS_ALLOW_UNAUTHENTICATED_PUBLIC_BIND=true "
                "if a gateway in front authenticates the EHR.",
                file=sys.stderr,
            )
            return 2
    import uvicorn

    from cds_service.logs import uvicorn_log_config

    if settings.metrics and args.workers > 1:
        _share_metrics_between_workers()
    app = serving_app(settings)  # built here first: a bad setting stops start-up in one line
    _announce(args, settings)
    log_config = uvicorn_log_config(settings.log_level)
    if args.workers > 1:
        # Workers import the factory themselves; settings come from the same environment.
        uvicorn.run(
            "cds_service.cli:serving_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            log_config=log_config,
        )
    else:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", log_config=log_config)
    return 0


def _share_metrics_between_workers() -> None:
    # prometheus-client's multiprocess mode: each worker writes its series to files in this
    # directory and /metrics sums them, whichever worker answers the scrape.
    import os
    import tempfile

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cds-metrics-")


def _announce(args: argparse.Namespace, settings: Settings) -> None:
    """Where it listens and how callers are checked: printed for the person who started it (uvicorn's
    own start-up lines are silenced) and logged as the one line an operator looks for."""
    from cds_service.store.opening import describe

    url = listen_url(args.host, args.port)
    print(f"cds-service listening on {url} (discovery: {url}/cds-services)", flush=True)
    auth = (
        f"jwt ({len(settings.trusted_issuers)} trusted issuer(s))"
        if settings.auth == "jwt"
        else "off (EHR JWTs are not verified)"
    )
    log.warning(
        f"cds-service listening on {url} (auth: {auth})",
        extra={
            "store": describe(settings.effective_database_url),
            "workers": args.workers,
            "metrics": settings.metrics,
        },
    )


def listen_url(host: str, port: int) -> str:
    """The base URL a server bound to ``host``:``port`` answers on (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def serving_app(settings: Settings | None = None) -> FastAPI:
    """The app as a server runs it: built, then its start-up objects frozen out of the collector."""
    from cds_service.app import create_app

    app = create_app(settings)
    # Everything built so far (models, schemas, the knowledge base) lives as long as the process:
    # move it out of the collector's generations, so that a full collection triggered by a large
    # request body walks only request objects (measured: p99 108 -> 48 ms at 100 medications).
    gc.collect()
    gc.freeze()
    return app


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.bench import runner as bench

    sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    options = bench.BenchOptions(
        sizes=sizes,
        concurrency=args.concurrency,
        duration_s=args.duration,
        rounds=args.rounds,
        workers=args.workers,
        fhir_delay_s=args.fhir_delay,
        json_path=args.json,
    )
    return bench.main(options)


# ------------------------------------------------------------------ evaluate


def _read_request(args: argparse.Namespace, settings: Settings) -> object:
    """The request file as the HTTP route would parse it; raises ``_Refused`` with the exit code."""
    try:
        text = sys.stdin.read() if str(args.request) == "-" else args.request.read_text("utf-8")
    except OSError as exc:
        print(f"error: cannot read {args.request}: {exc.strerror}", file=sys.stderr)
        raise _Refused(2) from exc
    try:
        # The same parser and limits as the HTTP route: NaN, too deep or too long is refused alike.
        from cds_service.app import body_limits

        return parse_json(text.encode("utf-8"), body_limits(settings))
    except RequestRejected as exc:
        print(
            f"error: {args.request} is not JSON the service accepts: {exc.message}", file=sys.stderr
        )
        raise _Refused(2) from exc


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def service_for(payload: object, settings: Settings) -> str:
    """The id serving the request's hook: the legacy one (CDS_SERVICE_ID) when it serves it."""
    from cds_service.cdshooks.registry import HookRegistry

    hook = payload.get("hook") if isinstance(payload, dict) else None
    spec = HookRegistry.discover(settings.service_id).get(hook) if isinstance(hook, str) else None
    if spec is None or spec.on_legacy_id or spec.service_id is None:
        return settings.service_id
    return spec.service_id


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        payload = _read_request(args, settings)
    except _Refused as refused:
        return refused.code
    try:
        body = asyncio.run(_evaluate_payload(settings, payload, args.service_id))
    except RequestRejected as exc:
        print(f"error: invalid hook request: {exc.message}", file=sys.stderr)
        return 2
    except DataUnavailable as exc:
        print(f"error: medication data unavailable (HTTP 412): {exc.message}", file=sys.stderr)
        return 3
    except ConfigurationInvalid:
        raise
    except CdsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0


def _plan(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.render.plan import plan_html, plan_text

    try:
        payload = _read_request(args, settings)
        plan = asyncio.run(_plan_payload(settings, payload, args.service_id))
    except _Refused as refused:
        return refused.code
    except RequestRejected as exc:
        print(f"error: invalid hook request: {exc.message}", file=sys.stderr)
        return 2
    except DataUnavailable as exc:
        print(f"error: medication data unavailable (HTTP 412): {exc.message}", file=sys.stderr)
        return 3
    if plan is None:
        print("error: no ketamine infusion in this request: no plan", file=sys.stderr)
        return 1
    print(plan_html(plan) if args.html else plan_text(plan), end="" if args.html else "\n")
    return 0


async def _plan_payload(
    settings: Settings, payload: object, service_id: str | None
) -> PatientPlan | None:
    async def run(service: CdsService) -> PatientPlan | None:
        return await service.patient_plan(service_id or service_for(payload, settings), payload)

    return await _with_service(settings, run)


async def _evaluate_payload(settings: Settings, payload: object, service_id: str | None) -> object:
    async def run(service: CdsService) -> object:
        response = await service.evaluate(service_id or service_for(payload, settings), payload)
        return response.to_json_dict()

    return await _with_service(settings, run)


async def _with_service(settings: Settings, run: Callable[[CdsService], Awaitable[_T]]) -> _T:
    from cds_service.app import offline_service

    async with offline_service(settings) as service:
        return await run(service)


# ------------------------------------------------------------------ kb


def _kb(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.rules import loader
    from cds_service.settings import default_cards_dir

    cards_dir = args.dir or default_cards_dir()
    if args.action == "schemas":
        return loader.schemas_command(cards_dir)
    return loader.check_command(cards_dir)


# ------------------------------------------------------------------ feedback-report


def _feedback_report(args: argparse.Namespace, settings: Settings) -> int:
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
