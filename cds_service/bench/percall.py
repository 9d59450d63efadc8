"""The service's own cost per call, in process: one ASGI call of the real app, no sockets.

``python -m cds_service.bench.percall [--size 100] [--shape compact] [--calls 1000] [--profile]``
times the real app (``create_app`` settled as ``serve`` settles it) and the bare endpoint on
the same stamped bodies, and prints ms per call of each and their difference; ``--profile`` also
prints a cProfile of the service's calls. Less noisy than the load benchmark on a busy machine,
so each change is measured with it before and after; the load benchmark gives the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from cds_service.bench import payload as bench_payload
from cds_service.bench.load import stamped

Asgi = Any


async def asgi_post(app: Asgi, path: str, body: bytes) -> int:
    """POST ``body`` to ``app`` as uvicorn would; the answer's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def cpu_ms_per_call(
    app: Asgi, bodies: Sequence[bytes], calls: int, profile: cProfile.Profile | None = None
) -> float:
    """CPU ms per call of ``app`` over ``calls`` calls (after a warm-up), bodies in turn."""
    async with app.router.lifespan_context(app):
        for turn in range(min(calls, 100)):
            await asgi_post(app, bench_payload.SERVICE_PATH, bodies[turn % len(bodies)])
        if profile is not None:
            profile.enable()
        started = time.process_time()
        for turn in range(calls):
            status = await asgi_post(app, bench_payload.SERVICE_PATH, bodies[turn % len(bodies)])
            if status != 200:
                raise RuntimeError(f"call {turn} answered {status}")
        elapsed = time.process_time() - started
        if profile is not None:
            profile.disable()
    return elapsed * 1000 / calls


def measure(size: int, shape: str, calls: int, profile: bool = False) -> dict[str, Any]:
    """Service and bare CPU ms per call, and the cProfile text when asked for."""
    from cds_service.app import create_app
    from cds_service.bench.servers import create_bare_app
    from cds_service.ops.runtime import settle_for_serving

    bodies = [stamped(b, n) for n, b in enumerate(bench_payload.variants(size, 32, shape))]
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix="cds-percall-") as data_dir:
        os.environ.setdefault("CDS_AUTH", "off")
        os.environ["CDS_DATA_DIR"] = data_dir
        app = create_app()
        settle_for_serving()
        service = asyncio.run(cpu_ms_per_call(app, bodies, calls, profiler))
    bare = asyncio.run(cpu_ms_per_call(create_bare_app(), bodies, calls))
    result: dict[str, Any] = {"service_ms": service, "bare_ms": bare, "own_ms": service - bare}
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
        result["profile"] = text.getvalue()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cds_service.bench.percall")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--shape", choices=bench_payload.SHAPES, default="compact")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.size, args.shape, args.calls, args.profile)
    if "profile" in result:
        print(result["profile"])
    print(
        f"{args.size} meds ({args.shape}): service {result['service_ms']:.3f} ms, "
        f"bare {result['bare_ms']:.3f} ms, own {result['own_ms']:.3f} ms CPU per call"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
