"""The Parquet lake the streaming job writes: its row schema, where it is, how to read it.

A row is a Purchase (schema derived from the contract) plus where Kafka held it; files
are partitioned by `dt=YYYY-MM-DD` under `raw/` and read from that top folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import IntegerType, LongType, StructField, StructType, TimestampType

from apps.contract.models import Purchase
from apps.contract.spark import spark_schema
from apps.settings import Settings

RAW_PREFIX = "raw/"
LINEAGE = (
    StructField("kafka_partition", IntegerType(), nullable=False),
    StructField("kafka_offset", LongType(), nullable=False),
    StructField("kafka_timestamp", TimestampType(), nullable=False),
)
START_STACK = "start it with `invoke up`"


class AnalysisError(RuntimeError):
    """A situation explained in one line (printed without a traceback)."""


def lake_schema() -> StructType:
    """A lake row: the Purchase's fields, then its Kafka lineage."""
    return StructType([*spark_schema(Purchase).fields, *LINEAGE])


def arrow_schema():
    """The same row as a pyarrow schema (for writers and readers outside Spark)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(lake_schema(), timezone="UTC")


def lake_url(settings: Settings, prefix: str = RAW_PREFIX) -> str:
    return f"s3a://{settings.s3_bucket}/{prefix}"


def bucket_and_key(url: str) -> tuple[str, str]:
    """`s3a://bucket/some/key` -> (`bucket`, `some/key`)."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("s3a", "s3") or not rest:
        raise AnalysisError(f"not an S3 URL: {url!r} (expected s3a://bucket/prefix/)")
    bucket, _, key = rest.partition("/")
    return bucket, key


def check_store(settings: Settings, url: str) -> None:
    """The S3 store answers and holds the lake's bucket; else say what is missing."""
    from apps.stack.services.s3 import minio_client

    bucket, _ = bucket_and_key(url)
    try:
        exists = minio_client(settings).bucket_exists(bucket)
    except Exception as exc:  # connection refused, bad credentials, ...
        raise AnalysisError(f"the S3 store at {settings.s3_endpoint_url} does not answer "
                            f"({type(exc).__name__}): {START_STACK}") from None
    if not exists:
        raise AnalysisError(f"the S3 store has no bucket {bucket!r}: {START_STACK} "
                            f"(it creates the bucket)")


@dataclass(frozen=True)
class Lake:
    """The rows read, and the exact files they came from (the stream keeps adding more)."""

    purchases: object  # pyspark DataFrame
    files: list[str]

    @property
    def empty(self) -> bool:
        return not self.files


def read_lake(spark, url: str) -> Lake:
    """Every Parquet file under `url` (Spark honours the stream's commit log there); a
    folder without files is an empty lake, not an error."""
    from pyspark.errors import AnalysisException

    schema = lake_schema()
    try:
        purchases = spark.read.schema(schema).parquet(url)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" not in str(exc.getCondition() or exc):
            raise
        return Lake(spark.createDataFrame([], schema), [])
    files = sorted(purchases.inputFiles())
    if not files:
        return Lake(spark.createDataFrame([], schema), [])
    return Lake(purchases.select(*schema.names), files)
