"""``cds-service bench``: the service against the bare FastAPI endpoint, driven alternately, plus the fetch path.

Every process (the service, the bare app, the delayed FHIR server, the load driver) is a separate child on
127.0.0.1; all of them are stopped in ``finally`` blocks.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds_service.bench import payload as bench_payload
from cds_service.bench.load import LoadResult, percentile, stamped
from cds_service.bench.report import report
from cds_service.bench.servers import INLINE_BASE, REFERENCED_BASE

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Bodies per case: each differs in ids, hookInstance and entry order, so no per-request cache helps.
VARIANTS = 32
COMPACT_SIZE = 100  # the issue's ~42 kB shape is measured at this size


@dataclass(frozen=True, slots=True)
class BenchOptions:
    sizes: tuple[int, ...] = (10, 100, 1000)
    concurrency: int = 8
    duration_s: float = 2.0  # per round and server
    rounds: int = 3
    workers: int = 1
    fhir_delay_s: float = 0.1
    fhir_size: int = 100
    compact: bool = True  # also measure the compact shape at 100 medications
    json_path: Path | None = None

    def cases(self) -> list[tuple[int, str]]:
        """(size, shape) of every comparison, the compact shape last."""
        listed = [(size, "mixed") for size in self.sizes]
        return listed + ([(COMPACT_SIZE, "compact")] if self.compact else [])


@dataclass(slots=True)
class Server:
    """A child process serving HTTP on a loopback port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    startup_s: float
    log_path: Path


@dataclass(slots=True)
class Merged:
    """Several rounds of one server at one size, added up."""

    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, result: LoadResult) -> None:
        self.requests += result.requests
        self.errors += result.errors
        self.elapsed_s += result.elapsed_s
        self.client_cpu_s += result.client_cpu_s
        self.latencies_ms.extend(result.latencies_ms)

    def summary(self) -> dict[str, float]:
        """Throughput, latency percentiles and the client's own ceiling (requests per CPU second)."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "throughput_rps": self.requests / self.elapsed_s if self.elapsed_s else 0.0,
            "p50_ms": percentile(self.latencies_ms, 0.50),
            "p99_ms": percentile(self.latencies_ms, 0.99),
            "client_ceiling_rps": self.requests / self.client_cpu_s if self.client_cpu_s else 0.0,
        }


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Poll ``/health`` until it answers 200; fail when the process dies or the time runs out."""
    deadline = time.perf_counter() + timeout_s
    url = f"http://{HOST}:{port}/health"
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering /health")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"server on port {port} did not answer /health within {timeout_s} s")


@contextmanager
def serving(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """Start a server child, time it to its first 200 on /health, and always stop it."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            [sys.executable, *argv, "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_health(port, process)
            yield Server(name, port, process, time.perf_counter() - started, log_path)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a process and its children (uvicorn workers), summed."""
    totals = {"VmRSS": 0, "VmHWM": 0}
    for member in _process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in totals:
                totals[key] += int(value.split()[0])
    return totals


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found.extend(_process_tree(int(child)))
    return found


# ------------------------------------------------------------------ load


def drive(
    port: int, body_path: Path, concurrency: int, duration_s: float, warmup_s: float = 0
) -> LoadResult:
    """Run the load driver as its own process against one server; returns what it measured."""
    argv = [
        sys.executable, "-m", "cds_service.bench.load",
        "--port", str(port), "--path", bench_payload.SERVICE_PATH, "--body", str(body_path),
        "--concurrency", str(concurrency), "--duration", str(duration_s), "--warmup", str(warmup_s),
    ]  # fmt: skip
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        argv, cwd=REPO_ROOT, capture_output=True, check=True, timeout=duration_s + warmup_s + 60
    )
    return LoadResult(**json.loads(done.stdout))


def post_once(port: int, body: bytes) -> dict[str, Any]:
    """One hook call; its parsed answer (raises on a non-200)."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{bench_payload.SERVICE_PATH}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
        return result


def write_bodies(path: Path, bodies: Sequence[bytes]) -> Path:
    """One compact JSON body per line, as the load driver reads them."""
    path.write_bytes(b"\n".join(bodies) + b"\n")
    return path


def compare_size(
    service: Server,
    bare: Server,
    size: int,
    options: BenchOptions,
    workdir: Path,
    shape: str = "mixed",
) -> dict[str, Any]:
    """Drive service and bare alternately (A, B, A, B...) with the same requests of ``size`` meds."""
    bodies = bench_payload.variants(size, VARIANTS, shape)
    body_path = write_bodies(workdir / f"request-{shape}-{size}.jsonl", bodies)
    body = stamped(bodies[0], 0)
    cards = post_once(service.port, body)["cards"]
    merged = {"service": Merged(), "bare": Merged()}
    for server in (service, bare):
        drive(server.port, body_path, options.concurrency, 0.1, warmup_s=0.5)
    for _ in range(options.rounds):
        for name, server in (("service", service), ("bare", bare)):
            merged[name].add(drive(server.port, body_path, options.concurrency, options.duration_s))
    result: dict[str, Any] = {name: m.summary() for name, m in merged.items()}
    result["size"] = size
    result["shape"] = shape
    result["body_bytes"] = len(body)
    result["cards"] = sorted(card["source"].get("topic", {}).get("code", "?") for card in cards)
    service_rps, bare_rps = result["service"]["throughput_rps"], result["bare"]["throughput_rps"]
    result["ratio"] = service_rps / max(bare_rps, 1e-9)
    result["own_ms_per_call"] = own_ms_per_call(service_rps, bare_rps, options.workers)
    result["p99_ratio"] = result["service"]["p99_ms"] / max(result["bare"]["p99_ms"], 1e-9)
    return result


def own_ms_per_call(service_rps: float, bare_rps: float, workers: int = 1) -> float:
    """The service's own work per call (ms of one worker): its time per call minus the bare one's.

    Both run the same HTTP stack and body parse budget, so the difference is what the service adds."""
    if service_rps <= 0 or bare_rps <= 0:
        return 0.0
    return workers * 1000 * (1 / service_rps - 1 / bare_rps)


# ------------------------------------------------------------------ fetch path


def fetch_path(
    service: Server, options: BenchOptions, workdir: Path, env: dict[str, str]
) -> dict[str, Any]:
    """Hook calls without prefetch against a FHIR server that waits ``fhir_delay_s`` per request."""
    argv = ["-m", "cds_service.bench.servers", "fhir", "--size", str(options.fhir_size),
            "--delay", str(options.fhir_delay_s)]  # fmt: skip
    own = _latency_ms(service.port, bench_payload.hook_request(options.fhir_size), workdir, "own")
    results: dict[str, Any] = {"delay_ms": options.fhir_delay_s * 1000, "size": options.fhir_size}
    results["own_cost_p50_ms"] = own
    with serving("fhir", argv, env, workdir) as fhir:
        for base in (INLINE_BASE, REFERENCED_BASE):
            server_url = f"http://{HOST}:{fhir.port}{base}"
            request = bench_payload.hook_request(
                options.fhir_size, with_prefetch=False, fhir_server=server_url
            )
            before = fhir_requests(fhir.port)
            cards = post_once(service.port, bench_payload.encoded(request))["cards"]
            sequential = fhir_requests(fhir.port) - before
            total = _latency_ms(service.port, request, workdir, base.strip("/"))
            results[base.strip("/")] = {
                "fhir_requests_per_call": sequential,
                "sum_of_sequential_fetches_ms": sequential * options.fhir_delay_s * 1000,
                "total_p50_ms": total,
                "round_trips": total / (options.fhir_delay_s * 1000),
                "cards": sorted(c["source"].get("topic", {}).get("code", "?") for c in cards),
            }
    return results


def fhir_requests(port: int) -> int:
    """How many requests the delayed FHIR server has answered."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/requests", timeout=5) as answer:
        return int(json.loads(answer.read())["requests"])


def _latency_ms(port: int, request: Any, workdir: Path, name: str) -> float:
    bodies = [
        bench_payload.encoded({**request, "hookInstance": f"{request['hookInstance']}-{turn}"})
        for turn in range(VARIANTS)
    ]
    body_path = write_bodies(workdir / f"fetch-{name}.jsonl", bodies)
    return percentile(drive(port, body_path, 1, 2.0, warmup_s=0.3).latencies_ms, 0.5)


# ------------------------------------------------------------------ the run


def run(options: BenchOptions) -> dict[str, Any]:
    """The whole benchmark; returns the machine-readable results."""
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as tmp:
        workdir = Path(tmp)
        env = _environment(workdir)
        workers = ["--workers", str(options.workers)]
        service_argv = ["-m", "cds_service", "serve", *workers]
        bare_argv = ["-m", "cds_service.bench.servers", "bare", *workers]
        with (
            serving("service", service_argv, env, workdir) as service,
            serving("bare", bare_argv, env, workdir) as bare,
        ):
            sizes = [
                compare_size(service, bare, size, options, workdir, shape)
                for size, shape in options.cases()
            ]
            memory = memory_kb(service.process.pid)
            bare_memory = memory_kb(bare.process.pid)
            fetch = fetch_path(service, options, workdir, env)
        return {
            "machine": machine(),
            "options": {
                "sizes": list(options.sizes),
                "concurrency": options.concurrency,
                "duration_s": options.duration_s,
                "rounds": options.rounds,
                "workers": options.workers,
            },
            "startup_s": {"service": service.startup_s, "bare": bare.startup_s},
            "memory_kb": {"service": memory, "bare": bare_memory},
            "sizes": sizes,
            "cost_ratio_1000_vs_100": _cost_ratio(sizes),
            "fetch": fetch,
        }


def _environment(workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDS_")}
    env.update(CDS_AUTH="off", CDS_DATA_DIR=str(workdir / "data"), PYTHONPATH=str(REPO_ROOT))
    return env


def _cost_ratio(sizes: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    by_size = {entry["size"]: entry for entry in sizes if entry.get("shape", "mixed") == "mixed"}
    if 100 not in by_size or 1000 not in by_size:
        return None
    ratios = {}
    for name in ("service", "bare"):
        small, large = by_size[100][name], by_size[1000][name]
        ratios[name] = small["throughput_rps"] / max(large["throughput_rps"], 1e-9)
    return ratios


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(options: BenchOptions) -> int:
    """Run, print the table, optionally write JSON."""
    results = run(options)
    print(report(results))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(results, indent=2))
    return 0
