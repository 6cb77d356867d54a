"""The ingestion API (FastAPI under uvicorn), a supervised host process in every runtime."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.settings import REPO_ROOT, Settings
from apps.stack import probes
from apps.stack.spec import Health, Program, Service


def programs(settings: Settings) -> list[Program]:
    from apps.api.local_server import uvicorn_command

    url = urlsplit(settings.api_url)
    return [Program("api", uvicorn_command(url.hostname or "127.0.0.1", url.port or 8000),
                    cwd=REPO_ROOT)]


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
    reads_env_file=True,
)
