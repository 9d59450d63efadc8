"""How calls to a healthy FHIR server fare while many calls name a hanging one (loopback only).

Run on demand, from the repo root:

    .venv/bin/python scripts/hanging_flood.py [--callers 60] [--probes 12]

Starts the real service and two of the hardening tests' FHIR servers (one answering, one never
answering), keeps ``--callers`` calls naming the hanging server in flight, then sends ``--probes``
calls naming the healthy one, 0.3 s apart, and prints each probe's time and status and the hung
calls' times. Every probe should answer 200 well inside the 3 s deadline; the hung calls should end
near their 2 s per-request timeout. tests/hardening/test_hostile_fhir.py checks the same with one probe.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hardening import test_hostile_fhir as hostile


async def _flood(base: str, healthy: str, hanging: str, callers: int, probes: int) -> None:
    limits = httpx.Limits(max_connections=callers + 10)
    hung: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        flooding = True

        async def keep_calling() -> None:
            while flooding:
                started = time.monotonic()
                await client.post(hostile.SERVICE_PATH, json=hostile._call(f"{hanging}/hang"))
                hung.append(time.monotonic() - started)

        tasks = [asyncio.create_task(keep_calling()) for _ in range(callers)]
        await asyncio.sleep(2.5)  # past the first timeouts: the flood is in its steady state
        for _ in range(probes):
            started = time.monotonic()
            answer = await client.post(hostile.SERVICE_PATH, json=hostile._call(f"{healthy}/fhir"))
            print(f"probe: {time.monotonic() - started:.3f} s, {answer.status_code}")
            await asyncio.sleep(0.3)
        flooding = False
        await asyncio.gather(*tasks)
    hung.sort()
    print(f"hung calls: {len(hung)}, p50 {hung[len(hung) // 2]:.2f} s, max {hung[-1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=60)
    parser.add_argument("--probes", type=int, default=12)
    args = parser.parse_args()
    healthy_process, healthy = hostile._fhir_server(read_delay=0.05)
    hanging_process, hanging = hostile._fhir_server()
    with tempfile.TemporaryDirectory() as data:
        port = hostile._free_port()
        env = {**os.environ, "CDS_DATA_DIR": data, "CDS_BODY_TIMEOUT_SECONDS": "1"}
        base = f"http://127.0.0.1:{port}"
        command = ["-m", "cds_service", "serve", "--port", str(port)]
        service = hostile._start(command, env, f"{base}/health", Path(data) / "service.log")
        try:
            asyncio.run(_flood(base, healthy, hanging, args.callers, args.probes))
        finally:
            for process in (service, healthy_process, hanging_process):
                hostile._stop(process)


if __name__ == "__main__":
    main()
