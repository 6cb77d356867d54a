"""The warm Spark: a Spark Connect server, one JVM that notebooks, `invoke analyze` and the
refresh DAG connect to (apps/spark_session.analysis_session), so the JVM's start, the S3A
client's and the JIT's warm-up are paid once per `invoke up`, not once per analysis.

The server class ships in the PySpark wheel (`jars/spark-connect_*.jar`); the wheel has no
`sbin/` scripts, so spark-submit starts it. Its settings, the S3 keys among them, are a
private (0600) properties file, not its command line (which `ps` shows). It is an
accelerator: skipped or down, each analysis starts a local Spark of its own, as before.
"""

from __future__ import annotations

import hashlib
import sys

from apps.settings import REPO_ROOT, Settings, url_address
from apps.spark_session import (
    UI_RETENTION,
    classpath_options, connector_jars, connectors, pyspark_home, s3a_options, standalone_options,
)
from apps.stack import probes
from apps.stack.jvm import IDLE_HEAP
from apps.stack.paths import RUN_DIR
from apps.stack.spec import Health, Program, Service
from apps.stack.templates import ConfigFile

PROGRAM = "spark-connect"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
PROPERTIES = RUN_DIR / "spark-connect.properties"
DEFAULT_PORT = 15002
# One JVM for every analysis on a 2-core machine that runs the whole stack: the 5 million
# purchase benchmark fits in this heap; its memory shows in `invoke status`.
DRIVER_MEMORY = "1g"
# A client that dies without closing its session leaves it open this long at most.
SESSION_TIMEOUT = "10m"


def address(settings: Settings) -> tuple[str, int]:
    return url_address(settings.spark_connect_url.replace("sc://", "http://", 1), DEFAULT_PORT)


def properties(settings: Settings) -> dict[str, str]:
    host, port = address(settings)
    return {
        "spark.master": settings.spark_master,
        "spark.app.name": "shopstream-spark-connect",
        "spark.driver.memory": DRIVER_MEMORY,
        "spark.driver.extraJavaOptions": " ".join(IDLE_HEAP),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.session.manager.defaultSessionTimeout": SESSION_TIMEOUT,
        "spark.ui.port": str(settings.spark_connect_ui_port),
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "WARN",  # INFO is several lines per client call
        "spark.sql.session.timeZone": "UTC",
        **UI_RETENTION,
        "spark.connect.ui.retainedSessions": "50",
        # S3A. Not provisioned yet (a fresh machine's `invoke status`, or the service
        # skipped): none, and the file changes once they are.
        **classpath_options(connector_jars() if connectors().is_cached() else []),
        **standalone_options(settings),
        **s3a_options(settings),
    }


def properties_file(settings: Settings) -> ConfigFile:
    text = "".join(f"{key} {value}\n" for key, value in sorted(properties(settings).items()))
    return ConfigFile(PROPERTIES, text)  # written owner-only: it holds the S3 keys


def programs(settings: Settings) -> list[Program]:
    home = pyspark_home()
    [jar] = (home / "jars").glob("spark-connect_*.jar")
    configuration = properties_file(settings)
    return [Program(PROGRAM, [str(home / "bin" / "spark-submit"), "--properties-file",
                              str(PROPERTIES), "--class", SERVER_CLASS, str(jar)],
                    # SPARK_LOCAL_IP: the web UI binds every interface without it.
                    # The digest: a changed properties file changes the program's section,
                    # so `invoke up` restarts it (and only then).
                    env={"SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
                         "PYSPARK_PYTHON": sys.executable,
                         "SHOPSTREAM_CONFIG_DIGEST": digest(configuration.text)},
                    cwd=REPO_ROOT, files=(configuration,), stop_wait_seconds=30)]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def health(settings: Settings) -> Health:
    host, port = address(settings)
    return Health(f"Spark Connect answering on {host}:{port}",
                  lambda: probes.tcp(host, port), timeout_seconds=180)


def ui_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.spark_connect_ui_port}"


SERVICE = Service(
    name="spark-connect",
    description="warm Spark for analyses (Spark Connect server)",
    url=lambda s: f"{s.spark_connect_url} (UI {ui_url(s)})",
    ports=lambda s: [address(s)[1], s.spark_connect_ui_port],
    programs=programs,
    health=health,
    needs=("s3", "spark"),  # "spark": the cluster profile's standalone cluster
    provision=lambda s: connectors().provision(),
    is_provisioned=lambda: connectors().is_cached(),
    host_process=True,
)
