"""The S3 store as the stream writes it and as outside readers (pyarrow, DuckDB) list it."""

from __future__ import annotations

import io

import pyarrow.fs as pafs

from apps.settings import Settings
from apps.stack.services.s3 import minio_client


def object_put(settings: Settings):
    """`put(key, data)`: one PUT of a whole object into the bucket (atomic on S3)."""
    client = minio_client(settings)
    bucket = settings.s3_bucket

    def put(key: str, data: bytes) -> None:
        client.put_object(bucket, key, io.BytesIO(data), len(data),
                          content_type="application/vnd.apache.parquet")

    return put


def lake_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's view of the S3 store: what a reader that lists folders sees."""
    return pafs.S3FileSystem(
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        endpoint_override=settings.s3_host,
        scheme="https" if settings.s3_secure else "http",
        region="us-east-1",
    )


def s3a_url(settings: Settings, path: str) -> str:
    """`s3a://<bucket>/<path>`, as Spark reads it."""
    return f"s3a://{settings.s3_bucket}/{path}"
