"""The lake's layout: which columns, which types (a contract with the analysis).

Two Delta tables (apps/lake/tables.py), partitioned by `dt`:
    <root>raw/         every Purchase field under its contract name and derived Spark type,
                       then the lineage columns; dt is the purchase's date (TimeStamp, UTC)
    <root>quarantine/  value (the Kafka record's bytes), reason, the lineage columns; dt is
                       the date of the Kafka timestamp (a bad record may have no purchase date)

A row's identity is its Kafka record: `kafka_topic_id` (the topic's incarnation, Kafka's
topic id; null in rows written before it was kept), `kafka_partition`, `kafka_offset`.
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
from apps.purchase_stream.names import QUARANTINE, RAW  # noqa: F401  (the layout's names)

VALUE = "value"
REASON = "reason"

PURCHASE = spark_schema(Purchase)
LINEAGE = StructType([
    StructField("kafka_partition", IntegerType(), nullable=False),
    StructField("kafka_offset", LongType(), nullable=False),
    StructField("kafka_timestamp", TimestampType(), nullable=False),
])
# The Spark job knows a record's partition, offset and time; the topic id it is given.
TOPIC_ID = StructField("kafka_topic_id", StringType(), nullable=True)
LAKE_LINEAGE = StructType([TOPIC_ID, *LINEAGE.fields])
LINEAGE_COLUMNS = LAKE_LINEAGE.names

# A row of the lake: the purchase, then where it came from.
RAW_SCHEMA = StructType([*PURCHASE.fields, *LAKE_LINEAGE.fields])
QUARANTINE_SCHEMA = StructType([
    StructField(VALUE, BinaryType(), nullable=True),  # a Kafka tombstone has no value
    StructField(REASON, StringType(), nullable=False),
    *LAKE_LINEAGE.fields,
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
ARROW_OF = {RAW: RAW_ARROW, QUARANTINE: QUARANTINE_ARROW}  # each table's data files
