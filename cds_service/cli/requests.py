"""``evaluate`` and ``plan``: one hook request read from a file, through the service's own path."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, TypeVar

from cds_service.errors import CdsError, ConfigurationInvalid, DataUnavailable, RequestRejected
from cds_service.settings import Settings
from cds_service.web.body import parse_json

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from cds_service.render.patient import PatientPlan
    from cds_service.service import CdsService
    from cds_service.service.explain import Explanation

_T = TypeVar("_T")


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


def _refusal_code(exc: RequestRejected | DataUnavailable) -> int:
    """The message and exit code of a request the service refused: 2 invalid, 3 data unavailable."""
    if isinstance(exc, RequestRejected):
        print(f"error: invalid hook request: {exc.message}", file=sys.stderr)
        return 2
    print(f"error: medication data unavailable (HTTP 412): {exc.message}", file=sys.stderr)
    return 3


def evaluate_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        payload = _read_request(args, settings)
    except _Refused as refused:
        return refused.code
    if getattr(args, "explain", False):
        return _explain(args, settings, payload)
    try:
        body = asyncio.run(_evaluate_payload(settings, payload, args.service_id))
    except (RequestRejected, DataUnavailable) as exc:
        return _refusal_code(exc)
    except ConfigurationInvalid:
        raise
    except CdsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0


def _explain(args: argparse.Namespace, settings: Settings, payload: object) -> int:
    """The engine's trace instead of the response: records as read, classes, the rule per card."""
    from cds_service.cli.explain import explanation_json, explanation_text
    from cds_service.service.explain import Redactor, explain_request

    async def run(service: CdsService) -> Explanation:
        return await explain_request(
            service, args.service_id or service_for(payload, settings), payload
        )

    try:
        explanation = asyncio.run(_with_service(settings, run))
    except RequestRejected as exc:
        return _refusal_code(exc)
    scrub = Redactor.for_payload(payload)
    if args.json:
        print(json.dumps(explanation_json(explanation, scrub), indent=2))
    else:
        print(explanation_text(explanation, scrub))
    return 0


def plan_command(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.render.plan import plan_html, plan_text

    try:
        payload = _read_request(args, settings)
        plan = asyncio.run(_plan_payload(settings, payload, args.service_id))
    except _Refused as refused:
        return refused.code
    except (RequestRejected, DataUnavailable) as exc:
        return _refusal_code(exc)
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
