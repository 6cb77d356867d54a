"""Reading the purchase lake the streaming job writes (its layout: apps/purchase_stream/
layout.py): the files of one version of the raw Delta table, as its log lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.purchase_stream.names import RAW
from apps.settings import Settings
from apps.stack.spec import StackError

RAW_PREFIX = f"{RAW}/"
START_STACK = "start it with `invoke up`"


class AnalysisError(StackError):
    """A situation explained in one line (`invoke` prints it without a traceback)."""


def lake_url(settings: Settings, prefix: str = RAW_PREFIX) -> str:
    from apps.purchase_stream.store import s3a_url

    return s3a_url(settings, prefix)


def bucket_and_key(url: str) -> tuple[str, str]:
    """`s3a://bucket/some/key` -> (`bucket`, `some/key`)."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("s3a", "s3") or not rest:
        raise AnalysisError(f"not an S3 URL: {url!r} (expected s3a://bucket/prefix/)")
    bucket, _, key = rest.partition("/")
    return bucket, key


def check_store(settings: Settings, url: str) -> None:
    """The S3 store answers and holds the lake's bucket; else say what is missing."""
    import urllib3

    from apps.stack.probes import TIMEOUT_MS
    from apps.stack.services.s3 import minio_client

    bucket, _ = bucket_and_key(url)
    quick = urllib3.PoolManager(timeout=TIMEOUT_MS / 1000, retries=False)  # not 7 s of retries
    try:
        exists = minio_client(settings, quick).bucket_exists(bucket)
    except Exception as exc:  # connection refused, bad credentials, ...
        raise AnalysisError(f"the S3 store at {settings.s3_endpoint_url} does not answer "
                            f"({type(exc).__name__}): {START_STACK}") from None
    if not exists:
        raise AnalysisError(f"the S3 store at {settings.s3_endpoint_url} has no bucket "
                            f"{bucket!r}: `invoke up` creates it")


@dataclass(frozen=True)
class Lake:
    """The rows of one version of the table, and the exact files they came from."""

    purchases: object  # pyspark DataFrame
    files: list[str]
    version: int | None = None  # None: there is no table yet

    @property
    def empty(self) -> bool:
        return not self.files


def read_lake(spark, url: str, settings: Settings) -> Lake:
    """The latest version of the raw table at `url` (`s3a://bucket/prefix/raw/`, or a local
    folder): Spark reads exactly the files its Delta log lists, never a folder listing. No
    table yet is an empty lake, not an error."""
    from deltalake import DeltaTable

    from apps.lake.tables import storage_options
    from apps.purchase_stream.layout import RAW_SCHEMA

    remote = url.startswith(("s3a://", "s3://"))
    uri = "s3://" + url.split("://", 1)[1].rstrip("/") if remote else url.rstrip("/")
    options = storage_options(settings) if remote else None
    schema = RAW_SCHEMA
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return Lake(spark.createDataFrame([], schema), [])
    delta = DeltaTable(uri, storage_options=options)
    files = sorted(delta.file_uris())
    if not files:
        return Lake(spark.createDataFrame([], schema), [], delta.version())
    readable = [f"s3a://{f.split('://', 1)[1]}" if remote else f for f in files]
    purchases = spark.read.schema(schema).parquet(*readable)
    return Lake(purchases.select(*schema.names), files, delta.version())
