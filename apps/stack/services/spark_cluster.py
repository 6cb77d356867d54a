"""A Spark standalone cluster, the cluster profile's (apps/profiles.py): one master and one
worker, started from the PySpark wheel's own classes (it ships no `sbin/` scripts), on
127.0.0.1. The streaming job and the warm Spark are applications on it, each held to
`spark.cores.max` (apps/spark_session.py), so the stream never starves an analysis.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.settings import Settings
from apps.spark_session import pyspark_home
from apps.stack import probes
from apps.stack.paths import data_dir
from apps.stack.spec import Health, Program, Service

MASTER, WORKER = "spark-master", "spark-worker"
MASTER_UI_PORT, WORKER_PORT, WORKER_UI_PORT = 8090, 7078, 8091  # off Airflow's 8080
# Both applications (the stream and the warm Spark) at once, a core and an executor each.
WORKER_CORES, WORKER_MEMORY = 2, "3g"
DAEMON_HEAP = "256m"  # the master and worker only schedule; executors have their own JVMs
WORK_DIR = data_dir(WORKER)


def master_address(settings: Settings) -> tuple[str, int]:
    parts = urlsplit(settings.spark_master)
    if parts.scheme != "spark" or not parts.hostname or not parts.port:
        raise ValueError(f"SPARK_MASTER is not a standalone master: {settings.spark_master!r}")
    return parts.hostname, parts.port


def _spark_class(main_class: str, *args: str) -> list[str]:
    return [str(pyspark_home() / "bin" / "spark-class"), main_class, *args]


def _env() -> dict[str, str]:
    # SPARK_LOCAL_IP: without it the daemons' web UIs bind every interface.
    return {"SPARK_HOME": str(pyspark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": DAEMON_HEAP}


def programs(settings: Settings) -> list[Program]:
    host, port = master_address(settings)
    return [
        Program(MASTER, _spark_class("org.apache.spark.deploy.master.Master", "--host", host,
                                     "--port", str(port), "--webui-port", str(MASTER_UI_PORT)),
                env=_env()),
        Program(WORKER, _spark_class("org.apache.spark.deploy.worker.Worker", "--host", host,
                                     "--port", str(WORKER_PORT),
                                     "--webui-port", str(WORKER_UI_PORT),
                                     "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                                     "--work-dir", str(WORK_DIR), settings.spark_master),
                env=_env()),
    ]


def master_ui(settings: Settings) -> str:
    return f"http://{master_address(settings)[0]}:{MASTER_UI_PORT}"


def alive_workers(state: dict) -> int:
    """Workers the master's JSON state shows ALIVE."""
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


def health(settings: Settings) -> Health:
    def check() -> str | None:
        import httpx

        url = f"{master_ui(settings)}/json/"
        try:
            state = httpx.get(url, timeout=probes.TIMEOUT_MS / 1000).json()
        except (httpx.HTTPError, ValueError) as exc:
            return f"GET {url} failed: {exc.__class__.__name__}: {exc}"
        return None if alive_workers(state) else "the master has no worker alive"

    return Health(f"a Spark master at {settings.spark_master} with a worker alive", check,
                  timeout_seconds=120)


def prepare(settings: Settings) -> None:
    WORK_DIR.mkdir(parents=True, exist_ok=True)


SERVICE = Service(
    name="spark",
    description="Spark standalone cluster (a master and a worker)",
    url=lambda s: f"{s.spark_master} (UI {master_ui(s)})",
    ports=lambda s: [master_address(s)[1], MASTER_UI_PORT, WORKER_PORT, WORKER_UI_PORT],
    programs=programs,
    health=health,
    prepare=prepare,
    host_process=True,
)
