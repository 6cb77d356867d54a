"""The ingestion API (FastAPI under uvicorn), a supervised host process in every runtime."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from apps.settings import REPO_ROOT, Settings
from apps.stack import probes
from apps.stack.spec import Health, Program, Service


def programs(settings: Settings) -> list[Program]:
    url = urlsplit(settings.api_url)
    return [Program("api", [
        sys.executable, "-m", "uvicorn", "apps.api.main:app",
        "--host", url.hostname or "127.0.0.1", "--port", str(url.port or 8000),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
    ], cwd=REPO_ROOT)]


def health(settings: Settings) -> Health:
    url = f"{settings.api_url.rstrip('/')}/health"
    return Health(f"API healthy and Kafka-ready at {url}", lambda: probes.http_ok(url))


SERVICE = Service(
    name="api",
    description="shopstream ingestion API",
    url=lambda s: f"{s.api_url.rstrip('/')}/docs",
    ports=lambda s: [urlsplit(s.api_url).port or 8000],
    programs=programs,
    health=health,
    needs=("kafka",),
    host_process=True,
)
