"""Airflow 3 in a virtual environment of its own: LocalExecutor, metadata in PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import httpx

from apps.project_python import PYTHON_VARIABLE
from apps.settings import REPO_ROOT, Settings
from apps.stack.artifacts import PythonVenv
from apps.stack.paths import CONFIG_DIR, SYSTEM_PATH, data_dir
from apps.stack.spec import Health, Program, Service, StackError
from apps.stack.templates import render

AIRFLOW_VERSION = "3.3.2"
VENV = PythonVenv("airflow", CONFIG_DIR / "airflow" / "requirements.lock")
HOME = data_dir("airflow")
# No triggerer: no task of shopstream's DAGs defers, and its two idle processes held
# about 230 MiB.
COMPONENTS = ("metadatabase", "scheduler", "dag_processor")
CONTAINER_REPO = "/opt/shopstream"  # where the Compose file mounts dags/, apps/ and .env


def passwords_file(settings: Settings):
    """The admin's password, where Airflow's simple auth manager reads it."""
    return render("airflow/passwords.json", user=settings.airflow_admin_user,
                  password=settings.airflow_admin_password.get_secret_value())


def configuration(settings: Settings, *, dags: str, passwords: str, logs: str) -> dict[str, str]:
    """Airflow's whole configuration, as the AIRFLOW__SECTION__KEY variables it reads: the
    one home of these settings for host processes and containers alike (only the paths
    differ)."""
    api = urlsplit(settings.airflow_url)
    db = urlsplit(settings.postgres_url)
    secret = settings.airflow_secret_key.get_secret_value()
    return {
        "AIRFLOW__CORE__DAGS_FOLDER": dags,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # 4 workers, not one per core x 16: about 1.8 GB of RSS instead of 5.7 GB.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": settings.airflow_fernet_key.get_secret_value(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": passwords,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url.rstrip('/')}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://airflow:{settings.airflow_db_password.get_secret_value()}"
            f"@{db.hostname}:{db.port}/airflow"
        ),
        "AIRFLOW__API__HOST": api.hostname or "127.0.0.1",
        "AIRFLOW__API__PORT": str(api.port or 8080),
        "AIRFLOW__API__WORKERS": "1",
        # Where links to the UI point (the log URL in a failure alert).
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": logs,
    }


def environment(settings: Settings) -> dict[str, str]:
    """The host processes' environment: the configuration, with paths on this machine."""
    return {
        # Airflow starts its components by the name `airflow`: its venv must lead PATH. The
        # rest is fixed, never the caller's: a PATH in another order would change the
        # supervisord config and restart every Airflow process at the next `invoke up`.
        "PATH": f"{VENV.bin()}:{SYSTEM_PATH}",
        "VIRTUAL_ENV": str(VENV.bin().parent),
        "PYTHONPATH": str(REPO_ROOT),  # the DAG calls code in apps/
        # Tasks that need the project's libraries (delta-rs) run in its venv as a
        # subprocess: the interpreter that runs the stack's other programs (the stream, the
        # generator), whatever shell started `invoke up`.
        PYTHON_VARIABLE: sys.executable,
        "AIRFLOW_HOME": str(HOME),
        **configuration(settings, dags=str(REPO_ROOT / "dags"),
                        passwords=str(passwords_file(settings).path), logs=str(HOME / "logs")),
    }


def container_environment(settings: Settings) -> dict[str, str]:
    """The containers' environment (compose/docker-compose.yml mounts the repo there)."""
    return {
        "PYTHONPATH": CONTAINER_REPO,
        **configuration(settings, dags=f"{CONTAINER_REPO}/dags",
                        passwords="/opt/airflow/auth/passwords.json", logs="/opt/airflow/logs"),
    }


# The scheduler's log server binds every interface (no setting moves it) and only serves
# remote workers: here every process reads the same log folder.
COMPONENT_ARGS = {"api-server": [], "scheduler": ["--skip-serve-logs"], "dag-processor": []}


def programs(settings: Settings) -> list[Program]:
    env = environment(settings)
    airflow = str(VENV.bin() / "airflow")
    return [
        Program(f"airflow-{component}", [airflow, component, *args], env=env, cwd=HOME,
                files=(passwords_file(settings),))
        for component, args in COMPONENT_ARGS.items()
    ]


def prepare(settings: Settings) -> None:
    """Create or upgrade the metadata database, once per Airflow environment."""
    HOME.mkdir(parents=True, exist_ok=True)
    marker = HOME / f".migrated-{VENV.key}"
    if marker.exists():
        return
    proc = subprocess.run([str(VENV.bin() / "airflow"), "db", "migrate"], cwd=HOME,
                          env={**os.environ, **environment(settings)},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise StackError(f"airflow db migrate failed:\n{tail}")
    marker.touch()


def unhealthy_components(report: dict) -> list[str]:
    """Names of the components the monitor endpoint does not call healthy."""
    return [c for c in COMPONENTS if (report.get(c) or {}).get("status") != "healthy"]


def health(settings: Settings) -> Health:
    url = f"{settings.airflow_url.rstrip('/')}/api/v2/monitor/health"

    def check() -> str | None:
        try:
            response = httpx.get(url, timeout=3)
        except httpx.HTTPError as exc:
            return f"GET {url} failed: {exc.__class__.__name__}: {exc}"
        if response.status_code != 200:
            return f"GET {url} answered {response.status_code}"
        down = unhealthy_components(response.json())
        return f"not healthy yet: {', '.join(down)}" if down else None

    return Health(f"Airflow reporting {', '.join(COMPONENTS)} healthy at {url}", check,
                  timeout_seconds=240)


SERVICE = Service(
    name="airflow",
    description=f"Apache Airflow {AIRFLOW_VERSION} (LocalExecutor)",
    url=lambda s: s.airflow_url,
    ports=lambda s: [urlsplit(s.airflow_url).port or 8080],
    programs=programs,
    health=health,
    needs=("postgres",),
    provision=lambda s: VENV.provision(),
    is_provisioned=VENV.is_cached,
    prepare=prepare,
    credentials=".env: AIRFLOW_ADMIN_USER, AIRFLOW_ADMIN_PASSWORD",
    compose_services=tuple(f"airflow-{component}" for component in COMPONENT_ARGS),
    compose_environment=container_environment,
)
