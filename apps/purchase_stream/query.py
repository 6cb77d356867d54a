"""The streaming query: Kafka -> validated rows -> one pass per micro-batch into the lake."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from apps.lake import tables
from apps.lake.figures import table_figures
from apps.lake.runs import LakeFiguresFile
from apps.purchase_stream.config import StreamConfig
from apps.purchase_stream.layout import ARROW_OF
from apps.purchase_stream.progress import offsets
from apps.purchase_stream.resume import StartPoint, lake_marks, passed_gaps, prepare
from apps.purchase_stream.store import s3_store
from apps.purchase_stream.transform import kafka_records, validated
from apps.purchase_stream.writer import BatchWriter
from apps.settings import Settings
from apps.spark_session import UI_RETENTION
from apps.stack.jvm import IDLE_HEAP

log = logging.getLogger("purchase_stream")

# The stack's job on a 2-core machine that also runs Kafka, SeaweedFS, FerretDB,
# PostgreSQL and Airflow: the driver holds a batch's plan and its files' outcome rows, not
# its records (the executors write, writer.py); no shuffle happens, so few shuffle
# partitions.
# Tasks that write each batch's files: one file per period and table per task, so more
# tasks mean more small files for maintenance to compact. One suffices at the default
# rate; a cluster ingesting far more raises it (docs/scaling.md).
WRITER_TASKS = 1
DRIVER_OPTIONS = {
    "spark.driver.memory": "768m",
    "spark.driver.extraJavaOptions": " ".join(IDLE_HEAP),
    **UI_RETENTION,
    "spark.sql.shuffle.partitions": "2",
}


def kafka_source(spark: SparkSession, settings: Settings, config: StreamConfig,
                 start: StartPoint) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", config.topic)
        .option("startingOffsets", start.starting_offsets)  # without a checkpoint only
        # False only past losses an operator acknowledged (apps/purchase_stream/resume.py).
        .option("failOnDataLoss", str(start.fail_on_data_loss).lower())
        .option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
        .load()
    )


def start(spark: SparkSession, settings: Settings, config: StreamConfig, *,
          point: StartPoint | None = None, available_now: bool = False) -> StreamingQuery:
    """Start the query (from `point`, else `prepare`'s); `available_now` processes what the
    topic holds, then stops."""
    point = point or prepare(settings, config)
    rows = validated(kafka_records(kafka_source(spark, settings, config, point)))
    append, figures = tables.Appender(settings), LakeFiguresFile(config.lake_figures_file)

    def commit(table: tables.LakeTable, files, marks) -> None:
        delta = append.add_files(table, files, ARROW_OF[table.area], marks)
        figures.record(table_figures(delta, table.area, "stream"))

    writer = BatchWriter(commit, s3_store(settings), config.root, dict(point.marks),
                         point.topic.topic_id, WRITER_TASKS)
    writer = (
        rows.writeStream.foreachBatch(writer)
        .option("checkpointLocation", str(config.checkpoint))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{config.trigger_seconds} seconds")
    return writer.start()


def run(spark: SparkSession, settings: Settings, config: StreamConfig, point: StartPoint,
        poll_seconds: float = 1.0) -> None:
    """The job's query, until it stops. Started past acknowledged losses, Spark may skip
    missing offsets only until a batch has got past them; then the query starts again
    strict, so a later loss fails it (and is recorded at the restart) instead of being
    skipped in silence."""
    stream = start(spark, settings, config, point=point)
    if point.gaps:
        while not (stream.lastProgress and passed_gaps(
                end_offsets(stream.lastProgress), point.topic.name, point.gaps)):
            if not stream.isActive:
                return  # stopped or failed: the supervisor decides
            time.sleep(poll_seconds)
        stream.stop()
        log.info("past the acknowledged losses: the stream goes on failing on any new one")
        stream = start(spark, settings, config, point=strict(settings, config, point))
    stream.awaitTermination()


def end_offsets(progress) -> dict:
    """The Kafka source's end offsets in a StreamingQueryProgress."""
    [source] = json.loads(progress.json)["sources"]
    return offsets(source["endOffset"])


def strict(settings: Settings, config: StreamConfig, point: StartPoint) -> StartPoint:
    """The same start, strict, with the marks the lenient run left."""
    return replace(point, marks=lake_marks(settings, config, point.topic), gaps={})
