"""``serve --workers N`` with the default SQLite store: every worker's audit rows reach the one file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

WORKER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from cds_service.store.records import EvaluationRecord
from cds_service.store.sqlite import SqliteAuditStore

async def main(path: str, name: str, count: int) -> None:
    store = SqliteAuditStore(Path(path))
    for n in range(count):
        record = EvaluationRecord(
            hook_instance=f"{name}-{n}", service_id="s", hook="order-sign",
            evaluated_at=datetime.now(UTC), outcome="cards", kb_version="1", kb_digest="d",
            cards=(), duration_ms=1.0,
        )
        await store.record_evaluation(record)
        if n % 20 == 0:
            await asyncio.sleep(0.01)  # batches of about 20, interleaved with the other worker
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def test_sqlite_store_written_by_two_worker_processes_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "cds.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), name, "400"], env=env)
        for name in ("w1", "w2")
    ]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT substr(hook_instance, 1, 2), count(*) FROM evaluations GROUP BY 1"
        )
        assert dict(rows.fetchall()) == {"w1": 400, "w2": 400}
