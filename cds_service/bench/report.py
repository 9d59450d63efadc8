"""The benchmark's readable table: throughput, own work per call, latency, start-up, memory, fetch path."""

from __future__ import annotations

from typing import Any

from cds_service.bench.servers import INLINE_BASE, REFERENCED_BASE


def report(results: dict[str, Any]) -> str:
    """The readable table printed on stdout."""
    m = results["machine"]
    o = results["options"]
    lines = [
        f"machine: {m['cpus']} CPUs, {m['cpu_model']}, Python {m['python']}",
        f"load: {o['concurrency']} keep-alive clients, {o['rounds']} alternating rounds of "
        f"{o['duration_s']} s per server and size, {o['workers']} worker(s)",
        "",
        f"{'meds':>5} {'shape':>7} {'body':>6} | {'service r/s':>11} {'bare r/s':>9} {'ratio':>6} "
        f"{'own ms':>6} | {'svc p50':>8} {'svc p99':>8} {'bare p50':>8} {'bare p99':>8} "
        f"{'p99 x':>5} | {'client cap':>10} | cards",
    ]
    for entry in results["sizes"]:
        s, b = entry["service"], entry["bare"]
        cap = min(s["client_ceiling_rps"], b["client_ceiling_rps"])
        lines.append(
            f"{entry['size']:>5} {entry.get('shape', 'mixed'):>7} {entry['body_bytes'] // 1024:>4}kB | "
            f"{s['throughput_rps']:>11.0f} {b['throughput_rps']:>9.0f} {entry['ratio']:>6.2f} "
            f"{entry.get('own_ms_per_call', 0.0):>6.2f} | {s['p50_ms']:>6.1f}ms "
            f"{s['p99_ms']:>6.1f}ms {b['p50_ms']:>6.1f}ms {b['p99_ms']:>6.1f}ms "
            f"{entry.get('p99_ratio', 0.0):>5.2f} | {cap:>8.0f}/s | "
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
