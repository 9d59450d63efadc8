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
from cds_service.bench.load import LoadResult, percentile
from cds_service.bench.servers import INLINE_BASE, REFERENCED_BASE, REFERENCED_MEDICATIONS

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    sizes: tuple[int, ...] = (10, 100, 1000)
    concurrency: int = 8
    duration_s: float = 2.0  # per round and server
    rounds: int = 3
    workers: int = 1
    fhir_delay_s: float = 0.1
    fhir_size: int = 100
    json_path: Path | None = None


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


def compare_size(
    service: Server, bare: Server, size: int, options: BenchOptions, workdir: Path
) -> dict[str, Any]:
    """Drive service and bare alternately (A, B, A, B...) with the same request of ``size`` meds."""
    body = bench_payload.encoded(bench_payload.hook_request(size))
    body_path = workdir / f"request-{size}.json"
    body_path.write_bytes(body)
    cards = post_once(service.port, body)["cards"]
    merged = {"service": Merged(), "bare": Merged()}
    for server in (service, bare):
        drive(server.port, body_path, options.concurrency, 0.1, warmup_s=0.5)
    for _ in range(options.rounds):
        for name, server in (("service", service), ("bare", bare)):
            merged[name].add(drive(server.port, body_path, options.concurrency, options.duration_s))
    result: dict[str, Any] = {name: m.summary() for name, m in merged.items()}
    result["size"] = size
    result["body_bytes"] = len(body)
    result["cards"] = sorted(card["source"].get("topic", {}).get("code", "?") for card in cards)
    result["ratio"] = result["service"]["throughput_rps"] / max(
        result["bare"]["throughput_rps"], 1e-9
    )
    return result


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
        for base, sequential in ((INLINE_BASE, 2), (REFERENCED_BASE, 2 + REFERENCED_MEDICATIONS)):
            server_url = f"http://{HOST}:{fhir.port}{base}"
            request = bench_payload.hook_request(
                options.fhir_size, with_prefetch=False, fhir_server=server_url
            )
            cards = post_once(service.port, bench_payload.encoded(request))["cards"]
            total = _latency_ms(service.port, request, workdir, base.strip("/"))
            results[base.strip("/")] = {
                "fhir_requests_per_call": sequential,
                "sum_of_sequential_fetches_ms": sequential * options.fhir_delay_s * 1000,
                "total_p50_ms": total,
                "round_trips": total / (options.fhir_delay_s * 1000),
                "cards": sorted(c["source"].get("topic", {}).get("code", "?") for c in cards),
            }
    return results


def _latency_ms(port: int, request: Any, workdir: Path, name: str) -> float:
    body_path = workdir / f"fetch-{name}.json"
    body_path.write_bytes(bench_payload.encoded(request))
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
            sizes = [compare_size(service, bare, size, options, workdir) for size in options.sizes]
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
    by_size = {entry["size"]: entry for entry in sizes}
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


# ------------------------------------------------------------------ report


def report(results: dict[str, Any]) -> str:
    """The readable table printed on stdout."""
    m = results["machine"]
    o = results["options"]
    lines = [
        f"machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}",
        f"load: {o['concurrency']} keep-alive clients, {o['rounds']} alternating rounds of "
        f"{o['duration_s']} s per server and size, {o['workers']} worker(s)",
        "",
        f"{'meds':>5} {'body':>8} | {'service r/s':>11} {'bare r/s':>9} {'ratio':>6} | "
        f"{'svc p50':>8} {'svc p99':>8} {'bare p50':>8} {'bare p99':>8} | {'client cap':>10} | cards",
    ]
    for entry in results["sizes"]:
        s, b = entry["service"], entry["bare"]
        cap = min(s["client_ceiling_rps"], b["client_ceiling_rps"])
        lines.append(
            f"{entry['size']:>5} {entry['body_bytes'] // 1024:>6}kB | {s['throughput_rps']:>11.0f} "
            f"{b['throughput_rps']:>9.0f} {entry['ratio']:>6.2f} | {s['p50_ms']:>6.1f}ms "
            f"{s['p99_ms']:>6.1f}ms {b['p50_ms']:>6.1f}ms {b['p99_ms']:>6.1f}ms | {cap:>8.0f}/s | "
            f"{','.join(entry['cards'])}"
            + (f"  ERRORS {s['errors']}/{b['errors']}" if s["errors"] or b["errors"] else "")
        )
    lines.append("")
    ratio = results["cost_ratio_1000_vs_100"]
    if ratio:
        lines.append(
            f"cost of 1000 vs 100 meds: service {ratio['service']:.1f}x, bare {ratio['bare']:.1f}x"
        )
    start, mem = results["startup_s"], results["memory_kb"]
    lines.append(
        f"start-up to first /health 200: service {start['service']:.2f} s, bare {start['bare']:.2f} s"
    )
    lines.append(
        f"memory after load: service RSS {mem['service']['VmRSS'] / 1024:.0f} MB "
        f"(peak {mem['service']['VmHWM'] / 1024:.0f} MB), bare RSS {mem['bare']['VmRSS'] / 1024:.0f} MB"
    )
    lines.extend(_fetch_lines(results["fetch"]))
    return "\n".join(lines)


def _fetch_lines(fetch: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"fetch path ({fetch['size']} meds, no prefetch, FHIR server delay {fetch['delay_ms']:.0f} ms "
        f"per request; the service's own cost with prefetch: {fetch['own_cost_p50_ms']:.1f} ms p50):",
    ]
    for name in (INLINE_BASE.strip("/"), REFERENCED_BASE.strip("/")):
        entry = fetch[name]
        lines.append(
            f"  {name:<11} {entry['fhir_requests_per_call']} FHIR requests: total {entry['total_p50_ms']:.0f} ms "
            f"p50 = {entry['round_trips']:.2f} x delay (sequential sum {entry['sum_of_sequential_fetches_ms']:.0f} ms); "
            f"cards {','.join(entry['cards'])}"
        )
    return lines


def main(options: BenchOptions) -> int:
    """Run, print the table, optionally write JSON."""
    results = run(options)
    print(report(results))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(results, indent=2))
    return 0
