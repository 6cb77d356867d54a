"""The API as a uvicorn subprocess on a free local port: for integration tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from apps.settings import REPO_ROOT, Settings

STARTUP_TIMEOUT_S = 60


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LocalApi:
    host: str
    port: int
    log: Path
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_for_health(self, status: int, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Poll /health until it answers `status` (200: Kafka-ready; 503: up, Kafka not)."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.url}/health", timeout=2)
                if response.status_code == status:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{self.url}/health never answered {status} (last: {last}); "
                           f"API log:\n{self.log.read_text(errors='replace')[-3000:]}")


def uvicorn_command(host: str, port: int, app: str = "apps.api.main:app", *,
                    factory: bool = False) -> list[str]:
    """How the API is served, by the supervisor and by tests and benchmarks alike."""
    return [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            *(["--factory"] if factory else [])]


@contextmanager
def running_api(settings: Settings, log: Path, *, ack_timeout_s: float | None = None,
                app: str = "apps.api.main:app", factory: bool = False,
                port: int | None = None,
                environment: dict[str, str] | None = None) -> Iterator[LocalApi]:
    """uvicorn serving `app` as the supervisor runs the API, on API_URL's host and a port
    (by default a free one); `environment` overrides settings (e.g. the topics)."""
    host = urlsplit(settings.api_url).hostname or "127.0.0.1"
    port = port or free_port(host)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}
    if ack_timeout_s is not None:
        env["API_KAFKA_ACK_TIMEOUT"] = str(ack_timeout_s)
    env.update(environment or {})
    command = uvicorn_command(host, port, app, factory=factory)
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        yield LocalApi(host, port, log, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
