"""``serve`` and ``bench``: the HTTP service under uvicorn, and the benchmark that measures it."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from cds_service.fhir.urls import is_loopback
from cds_service.ops.runtime import settle_for_serving
from cds_service.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("cds_service.cli")


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
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
    # Both ways of running take the same server options: one list, so neither can miss one.
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "log_config": uvicorn_log_config(settings.log_level),
        "timeout_keep_alive": settings.keep_alive_seconds,
    }
    if args.workers > 1:
        # Workers import the factory themselves; settings come from the same environment.
        uvicorn.run(
            "cds_service.cli.serve:serving_app", factory=True, workers=args.workers, **options
        )
    else:
        uvicorn.run(app, **options)
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
    settle_for_serving()
    return app


def bench_command(args: argparse.Namespace, settings: Settings) -> int:
    from cds_service.bench import runner as bench

    sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    options = bench.BenchOptions(
        sizes=sizes,
        concurrency=args.concurrency,
        duration_s=args.duration,
        rounds=args.rounds,
        workers=args.workers,
        fhir_delay_s=args.fhir_delay,
        compact=args.compact,
        json_path=args.json,
    )
    return bench.main(options)
