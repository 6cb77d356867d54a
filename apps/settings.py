"""shopstream's settings: one object, read from `.env` at the repo root.

Every process (API, generator, DAG, Spark job, notebooks, `invoke`) builds its
configuration from here, so a host, port or secret is written in exactly one place:
the `.env` file that `invoke up` creates from `config/.env.example`.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from apps import profiles
from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC

REPO_ROOT = profiles.REPO_ROOT
ENV_FILE = REPO_ROOT / ".env"


_URL_PASSWORD = re.compile(r"(?<=//)([^/@\s:]*):[^/@\s]*@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it masked (`//user:***@host`): for status
    lines and error messages, since a real cluster's MONGO_URL or POSTGRES_DSN holds one."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


def host_port(address: str) -> tuple[str, int]:
    """`host:port` or a URL with an explicit port -> (host, port)."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"expected host:port in {address!r}")
    return parts.hostname, parts.port


def url_address(url: str, default_port: int) -> tuple[str, int]:
    """(host, port) of a server URL; 127.0.0.1 and `default_port` where it names none."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    stack_runtime: Literal["auto", "native", "docker"] = "auto"

    api_url: str
    api_kafka_ack_timeout: float = Field(10.0, gt=0)

    kafka_bootstrap_servers: str
    kafka_controller_port: int = 9093
    # The topics the API publishes to: the contract's, unless a process is pointed at
    # topics of its own (the ingestion benchmark's API, so it never feeds the pipeline).
    kafka_user_events_topic: str = USER_EVENTS_TOPIC
    kafka_purchases_topic: str = PURCHASES_TOPIC

    mongo_url: str
    mongo_db: str

    s3_endpoint_url: str
    s3_access_key: str
    s3_secret_key: SecretStr
    s3_bucket: str
    s3_console_port: int = 9001
    seaweedfs_master_port: int = 9333
    seaweedfs_volume_port: int = 8180
    seaweedfs_filer_port: int = 8188

    postgres_dsn: SecretStr
    postgres_superuser_password: SecretStr
    airflow_db_password: SecretStr

    airflow_url: str
    airflow_admin_user: str = "admin"
    airflow_admin_password: SecretStr
    airflow_secret_key: SecretStr
    airflow_fernet_key: SecretStr

    # The most records one run of the events DAG lands and counts; a backlog drains over
    # several runs. 100,000 took 55-98 s here under traffic (docs/user-events-dag.md).
    user_events_run_cap: int = Field(100_000, ge=1)

    spark_master: str = "local[2]"
    # The warm Spark for analyses (apps/stack/services/spark_connect.py); "" for none.
    spark_connect_url: str = "sc://127.0.0.1:15002"
    spark_connect_ui_port: int = 4050
    analysis_refresh_minutes: int = Field(10, ge=1)
    # Where a failed DAG task or a dead streaming job posts one JSON message; unset: none.
    alert_webhook_url: str | None = None
    jupyter_url: str = "http://127.0.0.1:8888"

    @property
    def kafka_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]

    @property
    def s3_secure(self) -> bool:
        return urlsplit(self.s3_endpoint_url).scheme == "https"

    @property
    def s3_host(self) -> str:
        """`host:port` of the S3 endpoint, as the minio client wants it."""
        return urlsplit(self.s3_endpoint_url).netloc

    @property
    def postgres_url(self) -> str:
        return self.postgres_dsn.get_secret_value()


def settings_digest(settings: Settings) -> str:
    """A short fingerprint of every value, secrets included (never shown): programs that
    read `.env` carry it in their supervisord environment, so a changed value restarts them."""
    values = {k: v.get_secret_value() if isinstance(v, SecretStr) else v
              for k, v in settings.model_dump().items()}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


class EnvFileMissing(FileNotFoundError):
    """`.env` is not there yet: `invoke up` creates it."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once; `.env` must exist, see `invoke up`), with the
    active profile's endpoints laid over `.env`'s (apps/profiles.py)."""
    if not ENV_FILE.exists():
        raise EnvFileMissing(f"{ENV_FILE} is missing: run `invoke up` once to create it")
    return Settings(**profiles.settings_overrides(profiles.active()))
