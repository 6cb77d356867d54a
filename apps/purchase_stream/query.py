"""The streaming query: Kafka -> validated rows -> one pass per micro-batch into the lake."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from apps.lake import tables
from apps.lake.figures import table_figures
from apps.lake.runs import LakeFiguresFile
from apps.purchase_stream.config import StreamConfig
from apps.purchase_stream.resume import StartPoint, prepare
from apps.purchase_stream.transform import kafka_records, validated
from apps.purchase_stream.writer import BatchWriter
from apps.settings import Settings

# The stack's job on a 2-core machine that also runs Kafka, SeaweedFS, FerretDB,
# PostgreSQL and Airflow: a 768 MiB driver heap holds a full batch (MAX_OFFSETS_PER_TRIGGER
# records as Arrow) several times over; no shuffle happens, so few shuffle partitions.
DRIVER_OPTIONS = {
    "spark.driver.memory": "768m",
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

    def commit(table: tables.LakeTable, new, marks) -> None:
        figures.record(table_figures(append(table, new, marks), table.area, "stream"))

    writer = BatchWriter(commit, config.root, dict(point.marks), point.topic.topic_id)
    writer = (
        rows.writeStream.foreachBatch(writer)
        .option("checkpointLocation", str(config.checkpoint))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{config.trigger_seconds} seconds")
    return writer.start()
