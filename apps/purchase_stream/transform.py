"""The streaming query's steps, DataFrame -> DataFrame (no I/O: tested without servers)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from apps.purchase_stream.layout import VALIDATED_SCHEMA, VALUE
from apps.purchase_stream.validate import validate_batches


def kafka_records(kafka: DataFrame) -> DataFrame:
    """The Kafka source's rows -> the raw value and its lineage columns."""
    return kafka.select(
        F.col("value").alias(VALUE),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )


def validated(records: DataFrame) -> DataFrame:
    """Each record checked by the contract: its purchase's columns, or its value and reason."""
    return records.mapInArrow(validate_batches, VALIDATED_SCHEMA)
