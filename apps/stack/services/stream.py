"""The Spark streaming job (purchases -> Parquet in the S3 store) and its failure alert,
supervised host processes in every runtime."""

from __future__ import annotations

import sys

from apps.purchase_stream.alert import FAILURES
from apps.purchase_stream.config import EXIT_DATA_LOST, JOB_ENV, JOB_SCRIPT, PROGRESS_FILE
from apps.settings import REPO_ROOT, Settings
from apps.spark_session import connectors
from apps.stack import probes
from apps.stack.spec import Health, Program, Service

JOB = "purchase-stream"
ALERT = "purchase-stream-alert"
SPARK_UI = "http://127.0.0.1:4040"


def programs(settings: Settings) -> list[Program]:
    return [
        Program(JOB, [sys.executable, str(JOB_SCRIPT)], env=JOB_ENV, cwd=REPO_ROOT,
                stop_wait_seconds=60, expected_exit_codes=(EXIT_DATA_LOST,)),
        Program(ALERT, [sys.executable, "-m", "apps.purchase_stream.alert", "--program", JOB,
                        "--progress-file", str(PROGRESS_FILE)],
                cwd=REPO_ROOT, events=FAILURES),
    ]


def health(settings: Settings) -> Health:
    return Health("streaming job and its alert listener running",
                  lambda: probes.programs_running(JOB, ALERT), timeout_seconds=60)


SERVICE = Service(
    name="stream",
    description="Spark streaming job: PurchasedItem -> s3a://purchases/raw/",
    url=lambda s: SPARK_UI,
    ports=lambda s: [],  # the UI takes 4040 or the next free port: not a contract port
    programs=programs,
    health=health,
    needs=("kafka", "s3", "spark"),  # "spark": the cluster profile's standalone cluster
    # The Kafka source and S3A are not part of PySpark: jars at PySpark's own versions.
    provision=lambda s: connectors().provision(),
    is_provisioned=lambda: connectors().is_cached(),
    host_process=True,
    reads_env_file=True,
)
