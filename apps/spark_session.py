"""A SparkSession wired to shopstream's Kafka and S3 store.

The Kafka source and the S3A filesystem are not part of PySpark: their jars are resolved
from Maven Central once, at the versions of the Spark and Hadoop that PySpark ships, and
kept in the per-user cache (`invoke up` provisions them).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
from pathlib import Path

from apps.settings import Settings
from apps.stack.artifacts import MavenJars

log = logging.getLogger(__name__)
HADOOP_PREFIX = "spark.hadoop."  # what a Spark setting for Hadoop's configuration begins with
JAR_VERSION = re.compile(r"-\d[^_]*\.jar$")  # the version: no underscore in it


def pyspark_home() -> Path:
    """The installed PySpark: a Spark distribution (`bin/`, `jars/`) without `sbin/`.
    Found without importing it (a quarter of a second), for `invoke status`'s sake."""
    [folder] = importlib.util.find_spec("pyspark").submodule_search_locations
    return Path(folder)


def _pyspark_jars() -> Path:
    return pyspark_home() / "jars"


def _hadoop_version() -> str:
    """The Hadoop version PySpark is built with (from its hadoop-client-api jar)."""
    [jar] = _pyspark_jars().glob("hadoop-client-api-*.jar")
    return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def connectors() -> MavenJars:
    spark_version = importlib.metadata.version("pyspark")  # not imported: status is quick
    return MavenJars("spark-connectors", (
        f"org.apache.spark:spark-sql-kafka-0-10_2.13:{spark_version}",
        f"org.apache.hadoop:hadoop-aws:{_hadoop_version()}",
    ))


def artifact_name(jar: str) -> str:
    """`kafka-clients` from `kafka-clients-3.9.2.jar`."""
    return JAR_VERSION.sub("", jar)


def extra_jars(resolved: list[str], shipped: list[str]) -> list[str]:
    """The resolved jars PySpark does not already ship (by artifact, whatever the version)."""
    have = {artifact_name(j) for j in shipped}
    return sorted(j for j in resolved if artifact_name(j) not in have)


def connector_jars() -> list[Path]:
    folder = connectors().path()
    if not folder.is_dir():
        raise FileNotFoundError(f"Spark connector jars are not provisioned ({folder}): run `invoke up`")
    names = extra_jars([p.name for p in folder.glob("*.jar")],
                       [p.name for p in _pyspark_jars().glob("*.jar")])
    return [folder / n for n in names]


def classpath_options(jars: list[Path]) -> dict[str, str]:
    """The connectors on the class path of the driver and of every executor: on a
    standalone cluster the executors run on the same machine and read the cached jars in
    place (`spark.jars` would copy 700 MB into every application's work directory)."""
    path = ":".join(map(str, jars))
    return {"spark.driver.extraClassPath": path, "spark.executor.extraClassPath": path}


# How much history the web UI of a long-running application (the stream's job, the warm
# Spark) keeps: enough to look at the last minutes, not weeks of jobs, stages and queries,
# whose plans and metrics Spark's defaults (1,000 of each, 100,000 tasks) keep on the heap.
UI_RETENTION = {
    "spark.ui.retainedJobs": "100",
    "spark.ui.retainedStages": "200",
    "spark.ui.retainedTasks": "10000",
    "spark.sql.ui.retainedExecutions": "100",
}


# An application on a standalone cluster takes this many cores at most: the stream and an
# analysis each hold one, so neither waits for the other (apps/stack/services/spark_cluster.py).
CORES_PER_APPLICATION = 1
EXECUTOR_MEMORY = "1g"


def standalone_options(settings: Settings) -> dict[str, str]:
    """What an application needs on a standalone master (SPARK_MASTER=spark://...); none
    in local mode."""
    if not settings.spark_master.startswith("spark://"):
        return {}
    return {"spark.cores.max": str(CORES_PER_APPLICATION),
            "spark.executor.memory": EXECUTOR_MEMORY,
            # An executor's Python workers run the project's interpreter, as the driver does.
            "spark.executorEnv.PYSPARK_PYTHON": sys.executable}


def s3a_options(settings: Settings) -> dict[str, str]:
    prefix = HADOOP_PREFIX + "fs.s3a."
    return {
        prefix + "endpoint": settings.s3_endpoint_url,
        prefix + "endpoint.region": "us-east-1",  # any region: the store is not AWS
        prefix + "access.key": settings.s3_access_key,
        prefix + "secret.key": settings.s3_secret_key.get_secret_value(),
        prefix + "path.style.access": "true",
        prefix + "connection.ssl.enabled": str(settings.s3_secure).lower(),
        prefix + "aws.credentials.provider":
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        # Hadoop 3.5's default "analytics" stream keeps, for as long as the JVM runs, 96
        # idle threads and an entry per object it ever read (HADOOP-20058): a warm Spark's
        # memory grows with every object it reads. The classic stream read the four no slower.
        prefix + "input.stream.type": "classic",
    }


# Variables that would turn PySpark's builder into a Spark Connect client.
CONNECT_VARIABLES = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")


def spark_session(settings: Settings, app_name: str, *, master: str | None = None,
                  with_connectors: bool = True, **options: str):
    """A classic session (a JVM in this process) on `SPARK_MASTER` (or `master`);
    `with_connectors=False` leaves out the Kafka source and S3A, for pure DataFrame work on
    a machine that has not provisioned them. The streaming job is one: it never becomes a
    Connect client, whatever the environment says."""
    from pyspark.sql import SparkSession

    for variable in CONNECT_VARIABLES:
        os.environ.pop(variable, None)

    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or settings.spark_master)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
    )
    keys = s3a_keys(settings)
    public = {k: v for k, v in s3a_options(settings).items() if k not in keys}
    jars = classpath_options(connector_jars()) if with_connectors else {}
    for key, value in {**jars, **standalone_options(settings), **public, **options}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # The S3 keys go to the running JVM's Hadoop configuration, not through the builder:
    # PySpark starts the JVM with the builder's settings on its command line, which `ps`
    # shows to every user of the machine.
    hadoop = session.sparkContext._jsc.hadoopConfiguration()
    for key, value in keys.items():
        hadoop.set(key.removeprefix(HADOOP_PREFIX), value)
    return session


def s3a_keys(settings: Settings) -> dict[str, str]:
    """The secret part of `s3a_options`."""
    return {key: value for key, value in s3a_options(settings).items()
            if key.endswith((".access.key", ".secret.key"))}


def warm_server_answers(settings: Settings) -> bool:
    """The Spark Connect server of `SPARK_CONNECT_URL` accepts connections."""
    from apps.stack.probes import tcp
    from apps.stack.services.spark_connect import address

    return bool(settings.spark_connect_url) and tcp(*address(settings)) is None


def analysis_session(settings: Settings, app_name: str, sql_options: dict[str, str],
                     local_options: dict[str, str] | None = None):
    """A session for an analysis: a new session on the warm server (`SPARK_CONNECT_URL`)
    when it answers, else a classic local one (with `local_options` too), as slow as a
    JVM's start. The caller ends it with `end_session`, which releases what it cached."""
    if warm_server_answers(settings):
        from pyspark.sql import SparkSession

        session = SparkSession.builder.remote(settings.spark_connect_url).create()
        for key, value in sql_options.items():
            session.conf.set(key, value)
        return session
    log.info("the warm Spark at %s does not answer: starting a local Spark",
             settings.spark_connect_url or "(SPARK_CONNECT_URL unset)")
    return spark_session(settings, app_name, **sql_options, **(local_options or {}))


def engine_of(session) -> dict[str, str]:
    """Which Spark ran an analysis, for its summary: the warm server and the session's id
    there, or a local Spark."""
    session_id = getattr(session, "session_id", None)
    if session_id is None or not hasattr(session, "client"):
        return {"engine": "local"}
    return {"engine": "spark-connect", "session_id": session_id}


def end_session(session) -> None:
    """Release what the session cached, then the session itself (on the server: its
    state; locally: the JVM)."""
    session.catalog.clearCache()
    session.stop()
