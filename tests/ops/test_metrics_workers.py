"""Several worker processes: prometheus-client's multiprocess mode sums every worker's series."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WORKER = """
from cds_service.ops.metrics import Metrics
Metrics().evaluated("order-sign", "cards", [])
"""
SCRAPE = """
from cds_service.ops.metrics import Metrics
print(Metrics().exposition().decode())
"""


def _python(code: str, multiproc_dir: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_metrics_with_a_multiprocess_dir_sum_the_series_of_every_worker(tmp_path: Path) -> None:
    for _ in range(2):  # two workers, each its own process
        _python(WORKER, tmp_path)
    text = _python(SCRAPE, tmp_path)
    assert 'cds_evaluations_total{hook="order-sign",outcome="cards"} 2.0' in text
