"""Instructions per call, counted by valgrind: the service's and the bare endpoint's, in one run.

``python -m cds_service.bench.instructions [--size 100] [--shape compact]`` runs the same in-process
calls as ``percall`` under ``valgrind --tool=callgrind`` (Debian's ``valgrind``; about 1.5 minutes)
and prints the machine instructions per call of each and their ratio. Wall-clock figures on a shared
machine move by 5-10 % between readings; an instruction count moves little (0.1 % between two runs
of the same tree), so a change of 1 % is seen. The bodies repeat (32 variants), so the figures are
steady state: the memos of products, texts and draft verdicts answer. It is a proxy, not a time: it misses cache misses, which make a real call cost more than its
instructions say. Each figure is the difference of two runs of N1 and N2 calls, so start-up cancels.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from cds_service.bench import payload as bench_payload
from cds_service.bench.load import stamped
from cds_service.bench.percall import asgi_post

Target = Literal["service", "bare"]
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
CALLS = (100, 400)
TARGETS: tuple[Target, Target] = ("service", "bare")


@dataclass(frozen=True, slots=True)
class Counted:
    """Instructions per call of the service and of the bare endpoint on the same bodies."""

    service: float
    bare: float

    @property
    def own(self) -> float:
        return self.service - self.bare

    @property
    def ratio(self) -> float:
        """bare / service: what the throughput ratio would be if instructions were time."""
        return self.bare / self.service


def collected(valgrind_output: str) -> int:
    """The instruction count callgrind reports at exit ("Collected : N")."""
    found = _COLLECTED.search(valgrind_output)
    if found is None:
        raise RuntimeError("valgrind reported no instruction count")
    return int(found.group(1))


def per_call(first: int, second: int, calls: tuple[int, int] = CALLS) -> float:
    """Instructions per call from two runs of ``calls[0]`` and ``calls[1]`` calls."""
    return (second - first) / (calls[1] - calls[0])


def _count(target: Target, size: int, shape: str, calls: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "cds_service.bench.instructions",
        "--child",
        target,
        "--size",
        str(size),
        "--shape",
        shape,
        "--calls",
        str(calls),
    ]
    # A fixed hash seed: string hashes and set order, and so the instructions, are the same on every run.
    env = {**os.environ, "PYTHONHASHSEED": "0", "CDS_AUTH": "off"}
    done = subprocess.run(  # noqa: S603 (valgrind and our own interpreter)
        command, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {target} run failed: {done.stderr[-500:]}")
    return collected(done.stderr)


def measure(size: int, shape: str) -> Counted:
    """Service and bare instructions per call at ``size`` records of ``shape``. The four runs go
    at once: a count does not depend on what else the machine is doing."""
    runs = [(target, calls) for target in TARGETS for calls in CALLS]
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        counted = pool.map(lambda run: _count(run[0], size, shape, run[1]), runs)
        counts = dict(zip(runs, counted, strict=True))

    def of(target: Target) -> float:
        return per_call(counts[(target, CALLS[0])], counts[(target, CALLS[1])])

    return Counted(service=of("service"), bare=of("bare"))


def run_calls(target: Target, size: int, shape: str, calls: int) -> int:
    """``calls`` calls of one app on the benchmark's stamped bodies (run under valgrind); how many
    were answered 200."""
    from cds_service.app import create_app
    from cds_service.bench.servers import create_bare_app
    from cds_service.ops.runtime import settle_for_serving

    bodies = [stamped(b, n) for n, b in enumerate(bench_payload.variants(size, 32, shape))]
    with tempfile.TemporaryDirectory(prefix="cds-instructions-") as data_dir:
        os.environ["CDS_DATA_DIR"] = data_dir
        app = create_app() if target == "service" else create_bare_app()
        settle_for_serving()

        async def run() -> int:
            answered = 0
            async with app.router.lifespan_context(app):
                for turn in range(calls):
                    body = bodies[turn % len(bodies)]
                    answered += await asgi_post(app, bench_payload.SERVICE_PATH, body) == 200
            return answered

        return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cds_service.bench.instructions")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--shape", choices=bench_payload.SHAPES, default="compact")
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=CALLS[0], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        answered = run_calls(args.child, args.size, args.shape, args.calls)
        return 0 if answered == args.calls else 1
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    counted = measure(args.size, args.shape)
    print(
        f"{args.size} meds ({args.shape}): service {counted.service / 1e6:.3f} M, bare "
        f"{counted.bare / 1e6:.3f} M, own {counted.own / 1e6:.3f} M instructions per call; "
        f"bare / service {counted.ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
