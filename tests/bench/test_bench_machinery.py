"""The benchmark's machinery: baseline app, delayed FHIR server, load driver, payloads and report."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from cds_service.bench import payload as bench_payload
from cds_service.bench import runner as bench
from cds_service.bench.load import (
    STAMP,
    LoadResult,
    percentile,
    read_bodies,
    read_response,
    request_bytes,
    run_load,
    stamped,
)
from cds_service.bench.report import report
from cds_service.bench.servers import create_bare_app, create_fhir_app
from tests.conftest import SERVICE_URL


def test_bare_app_with_hook_body_answers_empty_cards() -> None:
    with TestClient(create_bare_app()) as client:
        response = client.post(SERVICE_URL, json=bench_payload.hook_request(10))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_bare_app_with_malformed_json_fails_like_any_json_endpoint() -> None:
    with TestClient(create_bare_app(), raise_server_exceptions=False) as client:
        response = client.post(SERVICE_URL, content=b"{not json")
    assert response.status_code >= 400


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0, 1.0, 3.0, 2.0, 4.0], 0.5, 3.0),
        ([float(v) for v in range(1, 101)], 0.99, 99.0),
        ([float(v) for v in range(1, 101)], 0.50, 50.0),
        ([7.0], 0.99, 7.0),
        ([], 0.5, 0.0),
    ],
)
def test_percentile_of_values_is_nearest_rank(values, fraction, expected) -> None:
    assert percentile(values, fraction) == expected


def test_read_response_with_content_length_returns_status_and_exact_body() -> None:
    async def read() -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhelloEXTRA")
        return await read_response(reader)

    assert asyncio.run(read()) == (201, b"hello")


def _recording_server(
    served: list[bytes],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A keep-alive HTTP server's handler that records each body and answers 200 ``{}``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            served.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    return handle


def test_load_driver_on_tiny_run_counts_every_answered_request() -> None:
    served: list[bytes] = []
    handle = _recording_server(served)

    async def drive() -> LoadResult:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_load(
                "127.0.0.1", port, "/x", b'{"a":1}', concurrency=3, duration_s=0.2
            )

    result = asyncio.run(drive())
    assert result.requests == len(served) > 0
    assert set(served) == {b'{"a":1}'}
    assert result.statuses == {"200": result.requests}
    assert result.errors == 0
    assert len(result.latencies_ms) == result.requests
    assert result.throughput == pytest.approx(result.requests / result.elapsed_s)


def test_request_bytes_declare_the_body_length() -> None:
    raw = request_bytes("127.0.0.1", 8000, "POST", "/p", b"12345")
    assert raw.startswith(b"POST /p HTTP/1.1\r\n")
    assert b"Content-Length: 5\r\n" in raw
    assert raw.endswith(b"\r\n\r\n12345")


def test_fhir_server_waits_the_delay_before_each_answer() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app = create_fhir_app(size=20, delay_s=0.25, sleep=sleep)
    with TestClient(app) as client:
        search = client.get("/inline/MedicationStatement", params={"patient": "p"})
        read = client.get("/referenced/Medication/bench-med-0")
        missing = client.get("/inline/Procedure")
    assert waits == [0.25, 0.25, 0.25]
    assert app.state.requests == 3
    assert search.json()["resourceType"] == "Bundle"
    assert len(search.json()["entry"]) == 12  # 3 in 5 of 20 records are statements
    assert read.json() == {**read.json(), "resourceType": "Medication", "id": "bench-med-0"}
    assert missing.status_code == 404


def test_fhir_server_referenced_base_points_records_at_medication_reads() -> None:
    async def sleep(seconds: float) -> None:
        return None

    with TestClient(create_fhir_app(size=10, delay_s=0, sleep=sleep)) as client:
        bundle = client.get("/referenced/MedicationStatement").json()
    references = [
        e["resource"]["medicationReference"]["reference"]
        for e in bundle["entry"]
        if "medicationReference" in e["resource"]
    ]
    assert references[:3] == [f"Medication/bench-med-{i}" for i in range(3)]


@pytest.mark.parametrize("size", [10, 100, 1000])
def test_payload_of_size_holds_that_many_history_records(size: int) -> None:
    prefetch = bench_payload.hook_request(size)["prefetch"]
    entries = prefetch["medicationStatements"]["entry"] + prefetch["medicationRequests"]["entry"]
    assert len(entries) == size
    resources = [e["resource"] for e in entries]
    assert any("contained" in r for r in resources) == (size >= 30)
    text_only = (
        "coding" not in r.get("medicationCodeableConcept", {"coding": 1}) for r in resources
    )
    assert any(text_only) == (size > 11)


def test_service_with_bench_payload_of_100_answers_interaction_cards(client: TestClient) -> None:
    response = client.post(
        SERVICE_URL, content=bench_payload.encoded(bench_payload.hook_request(100))
    )
    topics = {card["source"]["topic"]["code"] for card in response.json()["cards"]}
    assert {"BZD", "OPIOID"} <= topics


def test_memory_of_own_process_reports_resident_and_peak_kb() -> None:
    memory = bench.memory_kb(os.getpid())
    assert 0 < memory["VmRSS"] <= memory["VmHWM"]


def test_report_of_results_names_machine_ratios_and_fetch_path() -> None:
    row = {
        "throughput_rps": 100.0,
        "p50_ms": 5.0,
        "p99_ms": 9.0,
        "client_ceiling_rps": 900.0,
        "requests": 10,
        "errors": 0,
    }
    bare = {**row, "throughput_rps": 200.0}
    fetch_entry = {
        "fhir_requests_per_call": 2,
        "sum_of_sequential_fetches_ms": 200.0,
        "total_p50_ms": 110.0,
        "round_trips": 1.1,
        "cards": ["BZD"],
    }
    results = {
        "machine": {"cpus": 2, "cpu_model": "Test CPU", "python": "3.11.7"},
        "options": {"concurrency": 8, "rounds": 3, "duration_s": 2.0, "workers": 1},
        "sizes": [
            {
                "size": s,
                "body_bytes": 1024 * s,
                "cards": ["BZD"],
                "service": row,
                "bare": bare,
                "ratio": 0.5,
            }
            for s in (100, 1000)
        ],
        "cost_ratio_1000_vs_100": {"service": 1.0, "bare": 1.0},
        "startup_s": {"service": 0.5, "bare": 0.3},
        "memory_kb": {"service": {"VmRSS": 102400, "VmHWM": 112640}, "bare": {"VmRSS": 51200}},
        "fetch": {
            "size": 100,
            "delay_ms": 100.0,
            "own_cost_p50_ms": 5.0,
            "inline": fetch_entry,
            "referenced": {**fetch_entry, "fhir_requests_per_call": 5},
        },
    }
    text = report(results)
    assert "Test CPU" in text
    assert "0.50" in text
    assert "1.10 x delay" in text
    assert "RSS 100 MB" in text
    assert "own ms" in text
    assert "p99 x" in text


def test_bench_repo_root_is_the_clone_not_the_package() -> None:
    # Children run with PYTHONPATH=REPO_ROOT: the package dir there would shadow fhir.resources
    # with cds_service/fhir, and every server child would die at import.
    from cds_service.bench.runner import REPO_ROOT

    assert (REPO_ROOT / "pyproject.toml").is_file()


def test_payload_variants_differ_in_instance_ids_and_order_but_not_in_drugs() -> None:
    first, second = (bench_payload.hook_request(50, variant=v) for v in (1, 2))
    assert first["hookInstance"] != second["hookInstance"]
    drafts = [b["context"]["draftOrders"]["entry"][0]["resource"]["id"] for b in (first, second)]
    assert drafts[0] != drafts[1]

    def records(body: dict) -> list[dict]:
        return [e["resource"] for e in body["prefetch"]["medicationStatements"]["entry"]]

    ids = [r["id"] for r in records(first)], [r["id"] for r in records(second)]
    assert set(ids[0]).isdisjoint(ids[1])
    codes = [[r.get("medicationCodeableConcept") for r in records(b)] for b in (first, second)]
    assert codes[0] != codes[1]  # another order of entries
    assert sorted(map(str, codes[0])) == sorted(map(str, codes[1]))


def test_payload_compact_shape_of_100_is_about_42_kb_with_three_interacting_classes(
    client: TestClient,
) -> None:
    body = stamped(bench_payload.variants(100, 1, "compact")[0], 7)
    assert 36_000 < len(body) < 46_000
    response = client.post(SERVICE_URL, content=body)
    topics = {card["source"]["topic"]["code"] for card in response.json()["cards"]}
    assert topics == {"BZD", "STIM", "LTG"}


def test_payload_of_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown payload shape"):
        bench_payload.history(10, shape="huge")


def test_load_driver_with_several_bodies_sends_each_in_turn(tmp_path) -> None:
    served: list[bytes] = []
    handle = _recording_server(served)

    path = bench.write_bodies(tmp_path / "bodies.jsonl", [b'{"a":1}', b'{"a":2}', b'{"a":3}'])

    async def drive() -> LoadResult:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_load(
                "127.0.0.1", port, "/x", read_bodies(path), concurrency=2, duration_s=0.2
            )

    result = asyncio.run(drive())
    assert result.requests == len(served) >= 6
    assert set(served) == {b'{"a":1}', b'{"a":2}', b'{"a":3}'}


@pytest.mark.parametrize(
    ("service_rps", "bare_rps", "workers", "expected"),
    [
        (500.0, 1000.0, 1, 1.0),
        (1000.0, 1000.0, 1, 0.0),
        (500.0, 1000.0, 2, 2.0),
        (0.0, 9.0, 1, 0.0),
    ],
)
def test_own_ms_per_call_is_the_difference_of_time_per_call(
    service_rps: float, bare_rps: float, workers: int, expected: float
) -> None:
    assert bench.own_ms_per_call(service_rps, bare_rps, workers) == pytest.approx(expected)


def test_bench_options_cases_add_the_compact_shape_unless_disabled() -> None:
    assert bench.BenchOptions(sizes=(10,)).cases() == [(10, "mixed"), (100, "compact")]
    assert bench.BenchOptions(sizes=(10,), compact=False).cases() == [(10, "mixed")]


def test_fhir_server_with_include_answers_referenced_medications_in_the_search() -> None:
    async def sleep(seconds: float) -> None:
        return None

    app = create_fhir_app(size=10, delay_s=0, sleep=sleep)
    with TestClient(app) as client:
        plain = client.get("/referenced/MedicationStatement").json()
        included = client.get(
            "/referenced/MedicationStatement", params={"_include": "MedicationStatement:medication"}
        ).json()
        counted = client.get("/requests").json()
    extra = included["entry"][len(plain["entry"]) :]
    assert [e["resource"]["id"] for e in extra] == [f"bench-med-{i}" for i in range(3)]
    assert {e["search"]["mode"] for e in extra} == {"include"}
    assert counted == {"requests": 2}


def test_stamped_bodies_differ_per_request_and_keep_their_length() -> None:
    (body,) = bench_payload.variants(10, 1)
    assert STAMP in body
    first, second = stamped(body, 1), stamped(body, 2)
    assert first != second
    assert len(first) == len(second) == len(body)
    assert STAMP not in first
    request = json.loads(first)
    assert request["hookInstance"].endswith("00000001")
    assert request["context"]["draftOrders"]["entry"][0]["resource"]["id"].endswith("00000001")


@pytest.fixture
def in_process_app(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """What an in-process measurement of the real app needs: no auth, a temporary data dir, and the
    collector's thresholds put back (the app is settled as ``serve`` settles it)."""
    import gc

    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path))
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("in_process_app")
def test_percall_measures_service_and_bare_on_the_same_bodies() -> None:
    from cds_service.bench import percall

    result = percall.measure(10, "mixed", calls=3, profile=True)
    assert result["service_ms"] > 0
    assert result["bare_ms"] > 0
    assert result["own_ms"] == pytest.approx(result["service_ms"] - result["bare_ms"])
    assert "call_service" in result["profile"]


def test_instructions_per_call_is_the_difference_of_two_counted_runs() -> None:
    from cds_service.bench import instructions

    output = "==9992== Callgrind, a call-graph generating cache profiler\n"
    output += "==9992== Collected : 6009556173\n"
    assert instructions.collected(output) == 6_009_556_173
    with pytest.raises(RuntimeError):
        instructions.collected("==1== error: no such file\n")
    assert instructions.per_call(1_000, 4_000, calls=(100, 400)) == 10
    counted = instructions.Counted(service=9.0e6, bare=4.0e6)
    assert counted.own == 5.0e6
    assert counted.ratio == pytest.approx(4 / 9)


def test_instructions_measure_pairs_each_target_with_its_own_two_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cds_service.bench import instructions

    # A start-up cost plus a per-call cost that differ by target: only the right pairing gives both.
    per_call = {"service": 9_000, "bare": 4_000}
    start_up = {"service": 70_000_000, "bare": 30_000_000}

    def fake_count(target: str, size: int, shape: str, calls: int) -> int:
        assert (size, shape) == (100, "compact")
        return start_up[target] + per_call[target] * calls

    monkeypatch.setattr(instructions, "_count", fake_count)
    counted = instructions.measure(100, "compact")
    assert (counted.service, counted.bare) == (9_000, 4_000)


def test_instructions_without_valgrind_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.bench import instructions

    monkeypatch.setattr("shutil.which", lambda name: None)
    assert instructions.main(["--size", "10"]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err


@pytest.mark.usefixtures("in_process_app")
def test_instructions_child_answers_every_call_of_the_service_and_of_the_bare_endpoint() -> None:
    from cds_service.bench import instructions

    assert instructions.run_calls("service", 10, "mixed", 3) == 3
    assert instructions.run_calls("bare", 10, "mixed", 2) == 2
