"""Benchmark load driver: keep-alive HTTP/1.1 clients on raw asyncio streams, run as its own process.

A hand-written client keeps the driver's own cost per request small (no HTTP library on the client side);
the driver reports its CPU time so that its ceiling can be shown beside the servers' figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Bodies may hold this marker (in their hookInstance and draft order id): every request sent gets it
# replaced by its own number, so that no two requests of a run are the same bytes.
STAMP = b"~~~~~~~~"


def stamped(payload: bytes, number: int) -> bytes:
    """``payload`` with every STAMP replaced by ``number`` (8 digits: the length is unchanged)."""
    return payload.replace(STAMP, b"%08d" % (number % 100_000_000)) if STAMP in payload else payload


@dataclass(slots=True)
class LoadResult:
    """What one timed run measured: answers by status, latencies (ms), wall and client CPU time."""

    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of ``values``; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def request_bytes(host: str, port: int, method: str, path: str, body: bytes = b"") -> bytes:
    """One HTTP/1.1 keep-alive request, built once and written as is for every call."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response with a Content-Length (what uvicorn sends for JSON)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _client(
    host: str,
    port: int,
    payloads: Sequence[bytes],
    until: float,
    result: LoadResult,
    measure: bool,
    first: int = 0,
) -> None:
    # Each client walks the bodies from its own offset, so that concurrent calls differ too.
    reader, writer = await asyncio.open_connection(host, port)
    turn = first
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(stamped(payloads[turn % len(payloads)], first * 10_000_000 + turn))
            turn += 1
            status, _ = await read_response(reader)
            if not measure:
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            result.statuses[str(status)] = result.statuses.get(str(status), 0) + 1
            if status != 200:
                result.errors += 1
    finally:
        writer.close()
        await writer.wait_closed()


async def run_load(
    host: str,
    port: int,
    path: str,
    bodies: bytes | Sequence[bytes],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.0,
) -> LoadResult:
    """``concurrency`` clients send ``bodies`` in turn, back to back, for ``duration_s`` after a warm-up."""
    listed = [bodies] if isinstance(bodies, bytes) else list(bodies)
    payloads = [request_bytes(host, port, "POST", path, body) for body in listed]
    if warmup_s > 0:
        until = time.perf_counter() + warmup_s
        idle = LoadResult()
        await asyncio.gather(
            *(_client(host, port, payloads, until, idle, False, c) for c in range(concurrency))
        )
    result = LoadResult()
    cpu, wall = time.process_time(), time.perf_counter()
    until = wall + duration_s
    await asyncio.gather(
        *(_client(host, port, payloads, until, result, True, c) for c in range(concurrency))
    )
    result.elapsed_s = time.perf_counter() - wall
    result.client_cpu_s = time.process_time() - cpu
    return result


def read_bodies(path: Path) -> list[bytes]:
    """The request bodies of a file, one compact JSON document per line."""
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cds_service.bench.load --port P --path /x --body FILE``: prints a LoadResult as JSON.

    FILE holds one body per line; the clients send them in turn."""
    parser = argparse.ArgumentParser(prog="cds_service.bench.load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_load(
            args.host,
            args.port,
            args.path,
            read_bodies(args.body),
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
        )
    )
    json.dump(asdict(result), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
