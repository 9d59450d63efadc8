"""Real ``cds-service serve`` processes on free loopback ports, stopped with SIGTERM like a container."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM (what ``docker stop`` sends), then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


@contextmanager
def serving(work_dir: Path, name: str, **settings: str) -> Iterator[ServiceProcess]:
    """``python -m cds_service serve`` with only the given CDS_ settings; up when /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update({"CDS_DATA_DIR": str(work_dir / f"{name}-data"), **settings})
    log_path = work_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cds_service", "serve", "--port", str(port)],
            env=env,
            cwd=work_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_up(service)
        yield service
    finally:
        service.stop()


def _wait_until_up(service: ServiceProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(
                f"server exited with {service.process.returncode}: {service.log()}"
            )
        try:
            if httpx.get(f"{service.base}/health", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"server did not answer /health: {service.log()}")
