"""The lake's layout: which columns, which types, which object keys.

The analysis reads this exact layout, so it changes only together with it:

    <root>raw/dt=YYYY-MM-DD/batch-<batch id, 12 digits>.parquet
        every Purchase field under its contract name and derived Spark type, then the
        lineage columns; dt is the purchase's date (its TimeStamp, UTC)
    <root>quarantine/dt=YYYY-MM-DD/batch-<batch id, 12 digits>.parquet
        value (the Kafka record's bytes), reason, the lineage columns; dt is the date of
        the Kafka timestamp (a bad record may have no purchase date)

`root` is "" for the pipeline and a scratch prefix for tests and benchmarks.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import (
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from apps.contract.models import Purchase
from apps.contract.spark import spark_schema

RAW = "raw"
QUARANTINE = "quarantine"
PARTITION_COLUMN = "dt"
VALUE = "value"
REASON = "reason"

PURCHASE = spark_schema(Purchase)
LINEAGE = StructType([
    StructField("kafka_partition", IntegerType(), nullable=False),
    StructField("kafka_offset", LongType(), nullable=False),
    StructField("kafka_timestamp", TimestampType(), nullable=False),
])
LINEAGE_COLUMNS = LINEAGE.names

# A row of the lake: the purchase, then where it came from.
RAW_SCHEMA = StructType([*PURCHASE.fields, *LINEAGE.fields])
QUARANTINE_SCHEMA = StructType([
    StructField(VALUE, BinaryType(), nullable=True),  # a Kafka tombstone has no value
    StructField(REASON, StringType(), nullable=False),
    *LINEAGE.fields,
])
# What validation makes of one Kafka record: a purchase (reason null) or a reason and the
# raw value (purchase fields null). One schema for both, so one pass yields both outputs.
VALIDATED_SCHEMA = StructType([
    *(StructField(f.name, f.dataType, nullable=True) for f in PURCHASE.fields),
    StructField(VALUE, BinaryType(), nullable=True),
    StructField(REASON, StringType(), nullable=True),
    *LINEAGE.fields,
])
KAFKA_RECORD_SCHEMA = StructType([StructField(VALUE, BinaryType(), nullable=True),
                                  *LINEAGE.fields])


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow form of a Spark schema (timestamps in UTC, as Spark hands them over)."""
    return to_arrow_schema(schema, timezone="UTC")


RAW_ARROW = arrow_schema(RAW_SCHEMA)
QUARANTINE_ARROW = arrow_schema(QUARANTINE_SCHEMA)
VALIDATED_ARROW = arrow_schema(VALIDATED_SCHEMA)


def object_key(root: str, area: str, day: str, batch_id: int) -> str:
    """The one object a micro-batch writes for one date of one area.

    It depends only on the batch id and a date taken from the batch's records, both fixed
    by Spark's offset log before the batch runs: a replayed batch writes the same keys.
    """
    if area not in (RAW, QUARANTINE):
        raise ValueError(f"unknown lake area {area!r}: expected {RAW!r} or {QUARANTINE!r}")
    if batch_id < 0:
        raise ValueError(f"a batch id is never negative: {batch_id}")
    return f"{root}{area}/{PARTITION_COLUMN}={day}/batch-{batch_id:012d}.parquet"
